#!/bin/sh
# Entry point of the Chathub image. Some secrets arrive as environment values (AWS Secrets Manager,
# docker/.env) but the services read them from files: write them out, then run the command.
#   MEET_CREDS_JSON -> $MEET_CREDS_FILE   (Google OAuth client secrets)
#   MEET_TOKEN_JSON -> $MEET_TOKEN_FILE   (stored Meet user token)
# A variable that is unset or empty leaves its file alone (a mounted file or volume keeps working).
set -eu

write_secret_file() {  # VARIABLE FILE
    eval "value=\${$1:-}"
    [ -n "$value" ] || return 0
    mkdir -p "$(dirname "$2")"
    (umask 077 && printf '%s\n' "$value" >"$2")
}

write_secret_file MEET_CREDS_JSON "${MEET_CREDS_FILE:-creds.json}"
write_secret_file MEET_TOKEN_JSON "${MEET_TOKEN_FILE:-token.json}"
unset MEET_CREDS_JSON MEET_TOKEN_JSON

exec "$@"
