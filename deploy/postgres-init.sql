-- The key store lives in its own database (COMITY_KEYSTORE_URL).
CREATE DATABASE comity_keys OWNER comity;
