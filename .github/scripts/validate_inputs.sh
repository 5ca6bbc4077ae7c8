#!/usr/bin/env bash
# Validate the deploy workflow's inputs and print them, normalised, as GITHUB_OUTPUT lines:
#   environments=["dev","hml"]   image_tag=<tag>   build=true|false
# Inputs come ONLY through the environment (never interpolated into the script by Actions):
#   EVENT_NAME            push | workflow_dispatch
#   INPUT_ENVIRONMENTS    JSON list of environment names (workflow_dispatch), e.g. ["dev","hml"]
#   INPUT_IMAGE_TAG       already published tag to redeploy; empty builds COMMIT_SHA
#   COMMIT_SHA            the commit being deployed (40 hex digits)
#   GIT_REF               the ref the run is on (github.ref), e.g. refs/heads/main
#   ALLOWED_ENVIRONMENTS  space-separated allow-list (default: "dev hml prod")
#   MAIN_ONLY_ENVIRONMENTS  environments deployed only from refs/heads/main (default: "hml prod")
# Anything unexpected fails (exit 1) with a GitHub error annotation and no output at all.
set -euo pipefail

fail() {
  # The offending value is not echoed: it may hold workflow commands or escapes.
  echo "::error title=Invalid deploy input::$1" >&2
  exit 1
}

allowed_environments=" ${ALLOWED_ENVIRONMENTS:-dev hml prod} "
main_only_environments=" ${MAIN_ONLY_ENVIRONMENTS:-hml prod} "
git_ref="${GIT_REF:-}"
event_name="${EVENT_NAME:-}"
commit_sha="${COMMIT_SHA:-}"
raw_environments="${INPUT_ENVIRONMENTS:-}"
image_tag="${INPUT_IMAGE_TAG:-}"

[[ "${commit_sha}" =~ ^[0-9a-f]{40}$ ]] || fail "COMMIT_SHA must be 40 lower-case hex digits"

case "${event_name}" in
  push)
    # A push to main deploys dev, always from a fresh build.
    raw_environments='["dev"]'
    image_tag=""
    ;;
  workflow_dispatch) ;;
  *) fail "unsupported event (push or workflow_dispatch only)" ;;
esac

# A JSON list of plain lower-case names, nothing else: no escapes, no nesting, no other types.
list_pattern='^\[[[:space:]]*"[a-z][a-z0-9]{0,11}"[[:space:]]*(,[[:space:]]*"[a-z][a-z0-9]{0,11}"[[:space:]]*)*\]$'
[[ "${raw_environments}" =~ ${list_pattern} ]] \
  || fail 'environments must be a JSON list of environment names, e.g. ["dev","hml"]'

environments=()
while IFS= read -r quoted; do
  name="${quoted//\"/}"
  [[ "${allowed_environments}" == *" ${name} "* ]] \
    || fail "unknown environment (allowed:${allowed_environments% })"
  # workflow_dispatch runs any branch: a branch's code must not reach hml or prod. (The GitHub
  # environments' deployment-branch rule says the same; this holds even if that is not set.)
  if [[ "${main_only_environments}" == *" ${name} "* && "${git_ref}" != "refs/heads/main" ]]; then
    fail "${name} deploys only from refs/heads/main"
  fi
  [[ " ${environments[*]:-} " == *" ${name} "* ]] || environments+=("${name}")
done < <(grep -oE '"[a-z0-9]+"' <<<"${raw_environments}")

if [[ -z "${image_tag}" ]]; then
  build=true
  image_tag="${commit_sha:0:12}"
else
  build=false
  # ^[A-Za-z0-9_.-]{1,128}$ (ECR's and Docker's tag characters), and not starting with '.' or
  # '-' (Docker refuses those; a leading '-' would also read as an option on a command line).
  [[ "${image_tag}" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] \
    || fail "image_tag must be 1-128 characters among A-Z a-z 0-9 _ . -, not starting with . or -"
fi

json="$(printf '"%s",' "${environments[@]}")"
echo "environments=[${json%,}]"
echo "image_tag=${image_tag}"
echo "build=${build}"
