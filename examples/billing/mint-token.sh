#!/usr/bin/env bash
# Mints an HS256 token for the billing example with nothing but openssl:
#   ./mint-token.sh <subject> [roles, comma-separated] [seconds valid, default 3600]
# The secret is $BILLING_JWT_SECRET, as the server reads it; issuer and audience match the
# Directive. For development only: a real deployment gets its tokens from its identity provider.
set -euo pipefail
subject="${1:?usage: mint-token.sh <subject> [roles] [seconds]}"
roles="${2:-}"
ttl="${3:-3600}"
: "${BILLING_JWT_SECRET:?set BILLING_JWT_SECRET (at least 32 bytes) as for the server}"

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
roles_json=$(printf '%s' "$roles" | awk -F, '{ for (i = 1; i <= NF; i++) printf "%s\"%s\"", (i > 1 ? "," : ""), $i }')
now=$(date +%s)
header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
payload=$(printf '{"sub":"%s","roles":[%s],"iss":"karman-example","aud":"billing","iat":%d,"exp":%d}' \
  "$subject" "$roles_json" "$now" "$((now + ttl))" | b64url)
signature=$(printf '%s.%s' "$header" "$payload" \
  | openssl dgst -sha256 -hmac "$BILLING_JWT_SECRET" -binary | b64url)
printf '%s.%s.%s\n' "$header" "$payload" "$signature"
