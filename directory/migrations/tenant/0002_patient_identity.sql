-- What privacy monitoring compares staff with: a patient's family name and
-- address, and the staff id of a patient who is also an employee.
ALTER TABLE patients ADD COLUMN family_name TEXT;
ALTER TABLE patients ADD COLUMN address TEXT;
ALTER TABLE patients ADD COLUMN employee_id TEXT;
