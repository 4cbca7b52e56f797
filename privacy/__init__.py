"""PII handling, pseudonyms and differential privacy."""
