"""``lakeml models …``: serve a model over HTTP (the scoring server) or score files with it."""

from __future__ import annotations

import argparse

from lakeml.cli.args import group


def _use_store(args: argparse.Namespace) -> None:
    """Make --store the store that runs:/ model URIs are resolved in."""
    if args.store:
        from lakeml.fluent import set_store

        set_store(args.store)


def cmd_models_serve(args: argparse.Namespace) -> str:
    from lakeml.models.serving.limits import Limits
    from lakeml.models.serving.scoring import serve

    _use_store(args)
    limits = Limits.configured(max_body_mb=args.max_body_mb,
                               max_inflight_mb=args.max_inflight_mb,
                               max_requests=args.max_requests)
    serve(args.model_uri, args.host, args.port, workers=args.workers, limits=limits,
          access_log=args.access_log, log_inferences=args.log_inferences,
          sample_rate=args.sample_rate, flush_interval=args.log_flush_interval)
    return "lakeml: server stopped"


def _read_table(path: str, *, tensors: bool = False) -> tuple[object, dict | None, bool]:
    """(input, params, whether its values came from text) of a .csv, .parquet or .json file.

    A .json file is a scoring request body, so its ``params`` are honoured.
    """
    import pandas as pd

    from lakeml.errors import InvalidArgument

    if path.endswith(".parquet"):
        return pd.read_parquet(path), None, False
    if path.endswith(".csv"):
        from lakeml.models.payloads import parse_csv

        with open(path, "rb") as fh:
            return parse_csv(fh.read()), None, True
    if path.endswith(".json"):
        from lakeml.models.payloads import parse_json

        with open(path, "rb") as fh:
            data, params = parse_json(fh.read(), tensors=tensors)
            return data, params, True
    raise InvalidArgument(f"--input {path!r}: name a .csv, .parquet or .json file")


def cmd_models_predict(args: argparse.Namespace) -> str:
    import os

    from lakeml.errors import InvalidArgument, NotFound
    from lakeml.models.payloads import predictions_frame, predictions_json
    from lakeml.models.pyfunc_model import load_model

    _use_store(args)
    if not os.path.isfile(args.input):
        raise NotFound(f"--input {args.input!r} is not a file")
    out = args.output
    if out and not out.endswith((".parquet", ".csv", ".json")):
        raise InvalidArgument(f"--output {out!r}: name a .parquet, .csv or .json file")
    model = load_model(args.model_uri)
    schema = model.metadata.input_schema
    data, params, from_text = _read_table(
        args.input, tensors=schema is not None and schema.is_tensor)
    predictions = model.predict_parsed(data, params) if from_text else model.predict(data)
    if not out:
        return predictions_json(predictions).decode()
    if out.endswith(".json"):
        with open(out, "wb") as fh:
            fh.write(predictions_json(predictions))
        return f"wrote {out}"
    frame = predictions_frame(predictions)
    if out.endswith(".parquet"):
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)
    return f"wrote {len(frame)} predictions to {out}"


def cmd_models_generate_dockerfile(args: argparse.Namespace) -> str:
    from lakeml.models.docker_context import generate_dockerfile

    _use_store(args)
    dockerfile = generate_dockerfile(args.model_uri, args.directory, port=args.port)
    return f"wrote a build context serving {args.model_uri} to {dockerfile.parent}"


def cmd_models_build_docker(args: argparse.Namespace) -> str:
    from lakeml.models.docker_context import build_docker

    _use_store(args)
    return f"built image {build_docker(args.model_uri, args.name, port=args.port)}"


def _add_docker(models_sub: argparse._SubParsersAction) -> None:
    for command, helptext in (
            ("generate-dockerfile", "write a Docker build context serving the model"),
            ("build-docker", "build a Docker image serving the model (needs docker)")):
        p = models_sub.add_parser(command, help=helptext)
        p.add_argument("--model-uri", "-m", required=True)
        if command == "generate-dockerfile":
            p.add_argument("--directory", "-d", required=True,
                           help="an empty or new folder for the build context")
        else:
            p.add_argument("--name", "-n", required=True, help="image name (and tag)")
        p.add_argument("--port", type=int, default=8080,
                       help="port the container serves on (default 8080)")
        p.add_argument("--store", help="store that runs:/ and models:/ URIs refer to")
        p.set_defaults(func=cmd_models_generate_dockerfile if command ==
                       "generate-dockerfile" else cmd_models_build_docker)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``models`` group: serve, predict."""
    models_sub = group(sub, "models", "serve a model over HTTP or score files with it")
    p = models_sub.add_parser("serve", help="REST scoring server (POST /invocations)")
    p.add_argument("--model-uri", "-m", required=True,
                   help="runs:/<run_id>/<path>, models:/<name>@<alias>, a folder, or a "
                        "storage URI")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", "-p", type=int, default=5000, help="port (0: any free port)")
    p.add_argument("--workers", "-w", type=int, default=1,
                   help="processes that score requests (default 1)")
    p.add_argument("--access-log", action="store_true",
                   help="print a line per request to stderr")
    p.add_argument("--store", help="store that runs:/ and models:/ URIs refer to")
    p.add_argument("--max-body-mb", type=float, help="largest request body in MB; larger "
                   "get 413 (default 64, LAKEML_SERVE_MAX_BODY_MB)")
    p.add_argument("--max-inflight-mb", type=float, help="request MB a process reads or "
                   "scores at once; more get 503 (default 64, LAKEML_SERVE_MAX_INFLIGHT_MB)")
    p.add_argument("--max-requests", type=int, help="requests a process reads or scores at "
                   "once; more get 503 (default 16, LAKEML_SERVE_MAX_REQUESTS)")
    p.add_argument("--log-inferences", action="store_true",
                   help="append each request's inputs, outputs, latency and status to the "
                        "store's inference_log table (see `lakeml monitor`)")
    p.add_argument("--sample-rate", type=float, default=1.0,
                   help="with --log-inferences, the share of requests logged (default 1)")
    p.add_argument("--log-flush-interval", type=float, default=1.0,
                   help="with --log-inferences, seconds between commits (default 1): "
                        "what a kill -9 may lose")
    p.set_defaults(func=cmd_models_serve)
    p = models_sub.add_parser("predict", help="score a .csv/.parquet/.json file")
    p.add_argument("--model-uri", "-m", required=True)
    p.add_argument("--input", "-i", required=True, help="a .csv, .parquet or .json file")
    p.add_argument("--output", "-o", help="a .parquet, .csv or .json file (default: JSON "
                   "to stdout)")
    p.add_argument("--store", help="store that runs:/ and models:/ URIs refer to")
    p.set_defaults(func=cmd_models_predict)
    _add_docker(models_sub)
