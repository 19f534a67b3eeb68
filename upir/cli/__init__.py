"""The ``upir`` command line (DESIGN.md section 5)."""
