-- 0003: which command-line input a document came from (its real path), so that
-- `ingest --prune` deletes only documents under the inputs it was given, never outside them.
ALTER TABLE documents ADD COLUMN source_input TEXT;
CREATE INDEX documents_source_input_idx ON documents (source_input);
