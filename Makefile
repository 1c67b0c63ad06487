# `sam build` runs one target per function (BuildMethod: makefile in template.yaml): each builds
# its binary with the lambda profile (fat LTO, one codegen unit, stripped; see Cargo.toml) for
# arm64 and puts `bootstrap` in the artifacts folder SAM names. SAM's rust-cargolambda method
# always passes `--release`, which cargo refuses beside `--profile`, hence this file.
# samconfig.toml builds in source, so SAM does not copy the workspace and its target/ first.

CARGO_LAMBDA_BUILD = cargo lambda build --profile lambda --arm64

build-ApiFunction:
	$(CARGO_LAMBDA_BUILD) --bin api --lambda-dir "$(ARTIFACTS_DIR)" --flatten api

build-IngestFunction:
	$(CARGO_LAMBDA_BUILD) --bin ingest --lambda-dir "$(ARTIFACTS_DIR)" --flatten ingest

build-DetectFunction:
	$(CARGO_LAMBDA_BUILD) --bin detect --lambda-dir "$(ARTIFACTS_DIR)" --flatten detect

build-NotifyFunction:
	$(CARGO_LAMBDA_BUILD) --bin notify --lambda-dir "$(ARTIFACTS_DIR)" --flatten notify

.PHONY: build-ApiFunction build-IngestFunction build-DetectFunction build-NotifyFunction
