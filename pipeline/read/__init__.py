"""Reading inputs: readers per format, listings, archives and their guards."""
