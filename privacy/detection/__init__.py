"""PII detection: validating recognizers for Chinese and English customer data.

Each recognizer is a pure finder (`find(text) -> list[Finding]`); `analyzer.py` runs them
either directly (the fast scanner) or inside Presidio's AnalyzerEngine (same results). May
import `privacy.check_digits` and `compliance.errors`.
"""
