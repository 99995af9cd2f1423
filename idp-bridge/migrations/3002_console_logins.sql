-- Whether the web console started a login, so the SAML assertion consumer
-- (a cross-site POST, which carries no SameSite=Lax cookie) knows to send
-- the browser back to the console.
ALTER TABLE login_attempts ADD COLUMN for_console BIGINT NOT NULL DEFAULT 0;
