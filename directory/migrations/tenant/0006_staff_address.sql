-- A staff member's home address, for privacy monitoring (staff looking up
-- patients who live at their address).
ALTER TABLE staff ADD COLUMN address TEXT;
