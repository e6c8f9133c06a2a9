-- Each stored journey carries a version: a save names the version it read and succeeds only if
-- no other request saved in between (compare-and-swap), so one page cannot advance twice. A
-- finished journey stays, stripped to a marker, until it expires: a late submit of its last page
-- is told the page was already submitted.
ALTER TABLE journeys ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE journeys ADD COLUMN finished BOOLEAN NOT NULL DEFAULT FALSE;
