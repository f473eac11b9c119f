-- 0001: the six contract tables of DESIGN.md, with exactly those names and columns, plus
-- what the pipeline needs in added columns and tables. Applied by `ragload init`, once.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE documents (
    doc_id           SERIAL PRIMARY KEY,
    source_name      VARCHAR NOT NULL,
    metadata         JSONB NOT NULL DEFAULT '{}',
    original_content TEXT,
    upload_timestamp TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- added: xxh128 of the normalized text + the settings that shape its rows (model, chunking)
    content_hash     BYTEA
);
-- The stable source key: one row per key, so a rerun can never duplicate a document.
CREATE UNIQUE INDEX documents_source_name_key ON documents (source_name);
CREATE INDEX documents_metadata_gin ON documents USING gin (metadata);

CREATE TABLE chunks (
    chunk_id       SERIAL PRIMARY KEY,
    doc_id         INTEGER NOT NULL REFERENCES documents (doc_id) ON DELETE CASCADE,
    chunk_text     TEXT NOT NULL,
    token_count    INT NOT NULL,
    chunk_metadata JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX chunks_doc_id_idx ON chunks (doc_id);
CREATE INDEX chunks_chunk_metadata_gin ON chunks USING gin (chunk_metadata);

-- The dimension is set by the model in use when the table is empty (ragload ingest), so one
-- init serves any model: the column becomes vector(d) then.
CREATE TABLE embeddings (
    embedding_id     SERIAL PRIMARY KEY,
    chunk_id         INTEGER NOT NULL UNIQUE REFERENCES chunks (chunk_id) ON DELETE CASCADE,
    embedding_vector vector NOT NULL,
    model_name       VARCHAR NOT NULL
);

CREATE TABLE users (
    user_id    SERIAL PRIMARY KEY,
    username   VARCHAR NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE chat_sessions (
    session_id       SERIAL PRIMARY KEY,
    user_id          INTEGER REFERENCES users (user_id) ON DELETE CASCADE,
    start_time       TIMESTAMPTZ NOT NULL DEFAULT now(),
    session_metadata JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX chat_sessions_user_id_idx ON chat_sessions (user_id);
CREATE INDEX chat_sessions_session_metadata_gin ON chat_sessions USING gin (session_metadata);

-- retrieved_chunk_ids has no foreign key: chunk ids are never reused, so a stored id points at
-- the chunk it named or at nothing (after a replacement), never at other text.
CREATE TABLE chat_messages (
    message_id          SERIAL PRIMARY KEY,
    session_id          INTEGER REFERENCES chat_sessions (session_id) ON DELETE CASCADE,
    "timestamp"         TIMESTAMPTZ NOT NULL DEFAULT now(),
    sender              VARCHAR NOT NULL,
    message_text        TEXT,
    retrieved_chunk_ids INTEGER[]
);
CREATE INDEX chat_messages_session_id_idx ON chat_messages (session_id);

-- Fitted models, keyed by the exact id that embeddings.model_name holds.
CREATE TABLE ragload_models (
    model_name     VARCHAR PRIMARY KEY,
    format_version INT NOT NULL,
    dim            INT NOT NULL,
    settings       JSONB NOT NULL,
    data           BYTEA NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Corpus-wide settings: which model embeds this corpus, chunking, distance.
CREATE TABLE ragload_corpus (
    key        VARCHAR PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The run log: one row per ingest/index/eval run.
CREATE TABLE ragload_runs (
    run_id     BIGSERIAL PRIMARY KEY,
    command    VARCHAR NOT NULL,
    inputs     TEXT[] NOT NULL DEFAULT '{}',
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at   TIMESTAMPTZ,
    status     VARCHAR NOT NULL DEFAULT 'running',
    counts     JSONB NOT NULL DEFAULT '{}',
    errors     TEXT
);
