# Models arrive with the scheduling engine (issue 3).
