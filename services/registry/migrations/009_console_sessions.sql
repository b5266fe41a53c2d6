-- Web console sessions (issue 16) in the registry, so every API node behind a load balancer knows them: only the
-- SHA-256 of a session id is stored; an API-key session names its key (a revocation ends it through the join), an
-- OpenID Connect session keeps the principal its claims made. Pending OpenID sign-ins (state, PKCE verifier, nonce)
-- live beside them: the identity provider may send the person back to another node than the one they started on.
CREATE TABLE console_sessions (
  seq         bigserial UNIQUE,
  id_hash     text PRIMARY KEY,
  person      text NOT NULL,
  csrf        text NOT NULL,
  api_key_id  text REFERENCES api_keys(id) ON DELETE CASCADE,
  principal   jsonb,
  role        text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX console_sessions_person_idx ON console_sessions (person, seq);
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);

CREATE TABLE oidc_sign_ins (
  seq         bigserial UNIQUE,
  state_hash  text PRIMARY KEY,
  verifier    text NOT NULL,
  nonce       text NOT NULL,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX oidc_sign_ins_expires_idx ON oidc_sign_ins (expires_at);
