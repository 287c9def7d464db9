"""Printed documents (reportlab): receipt, application form, day report, and the shared CJK font."""
