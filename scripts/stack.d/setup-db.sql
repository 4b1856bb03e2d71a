-- Databases and the application account of the native stack; idempotent.
-- scripts/stack fills in ${DB_PASSWORD} (envsubst) into $STACK_DIR/run/setup-db.sql
-- (mode 0600), which mariadbd runs at each start (init-file of my.cnf), so
-- the password never shows in a process list.
CREATE DATABASE IF NOT EXISTS `auth` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS `notes` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'app'@'127.0.0.1' IDENTIFIED BY '${DB_PASSWORD}';
CREATE USER IF NOT EXISTS 'app'@'localhost' IDENTIFIED BY '${DB_PASSWORD}';
ALTER USER 'app'@'127.0.0.1' IDENTIFIED BY '${DB_PASSWORD}';
ALTER USER 'app'@'localhost' IDENTIFIED BY '${DB_PASSWORD}';
-- The test suites create and drop their own auth_test*/notes_test* databases.
GRANT ALL PRIVILEGES ON `auth`.* TO 'app'@'127.0.0.1', 'app'@'localhost';
GRANT ALL PRIVILEGES ON `auth\_test%`.* TO 'app'@'127.0.0.1', 'app'@'localhost';
GRANT ALL PRIVILEGES ON `notes`.* TO 'app'@'127.0.0.1', 'app'@'localhost';
GRANT ALL PRIVILEGES ON `notes\_test%`.* TO 'app'@'127.0.0.1', 'app'@'localhost';
