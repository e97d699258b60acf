"""Code: repositories, file kinds and languages, licences, filters, repository documents."""
