#!/usr/bin/env bash
# sam package the built app for one stage (staging | prod) into that stage's artifacts bucket,
# as the stage's PipelineExecutionRole, and write the stage's template configuration.
# Reads <STAGE>_STACK_NAME, <STAGE>_REGION, <STAGE>_ARTIFACTS_BUCKET,
# <STAGE>_PIPELINE_EXECUTION_ROLE and <STAGE>_PARAMETER_OVERRIDES; CODE_VERSION is the commit.
set -euo pipefail
stage="$1"
upper="$(echo "$stage" | tr '[:lower:]' '[:upper:]')"
var() { local name="${upper}_$1"; echo "${!name:-}"; }
python pipeline/stage_config.py --overrides "$(var PARAMETER_OVERRIDES)" \
  --code-version "$CODE_VERSION" > "${stage}-config.json"
(
  eval "$(python pipeline/assume_role.py "$(var PIPELINE_EXECUTION_ROLE)" "package-${stage}")"
  sam package --template-file .aws-sam/build/template.yaml \
    --s3-bucket "$(var ARTIFACTS_BUCKET)" --s3-prefix "$(var STACK_NAME)" \
    --region "$(var REGION)" --output-template-file "packaged-${stage}.yaml"
)
