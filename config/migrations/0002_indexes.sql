-- 0002: what `ragload index` built, with its settings, build time and size, and the corpus's
-- distance (text corpora: cosine; precomputed TEXMEX vectors: l2), read by eval and reports.
CREATE TABLE ragload_indexes (
    index_name    VARCHAR PRIMARY KEY,
    kind          VARCHAR NOT NULL,          -- hnsw | ivfflat | fts
    opclass       VARCHAR,
    params        JSONB NOT NULL DEFAULT '{}',
    build_seconds DOUBLE PRECISION,
    index_bytes   BIGINT,
    row_count     BIGINT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
