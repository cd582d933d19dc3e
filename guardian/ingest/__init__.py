"""Input adapters: the PTL CSV importer (and, later, FHIR)."""
