## tests that span areas
