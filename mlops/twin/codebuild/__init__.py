"""CodeBuild builds that run for real: a buildspec 0.2 runner as local processes, each build in
its own workspace (moto stores projects and reports every build SUCCEEDED at once)."""
