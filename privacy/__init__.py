"""Privacy: redaction, the privacy ledger and accountant, retention, bundle crypto."""
