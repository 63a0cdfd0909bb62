"""``qgen train`` and ``qgen sample``."""

from __future__ import annotations

import json
import time

import click

from qgen.datasets.hdf5 import write_samples

from .main import cli
from .options import BACKENDS, writable_output


def _parse_set(items: tuple[str, ...]) -> dict:
    """KEY=VALUE pairs; VALUE is read as JSON when it parses (numbers, true, …)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got '{item}'", param_hint="--set")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


@cli.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--model", "model_name", default="auto", show_default=True,
              help=f"Backend: auto (lpdo up to 12 qubits, rnn above), {BACKENDS}.")
@click.option("--preset", default=None, help="Model preset (e.g. default, paper).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Run directory.")
@click.option("--epochs", type=click.IntRange(min=1), default=None)
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--schedule", default=None, help="Learning-rate schedule: cosine, plateau, constant.")
@click.option("--patience", type=click.IntRange(min=1), default=None, help="Early-stopping patience (epochs).")
@click.option("--max-time", default=None, help="Wall-clock budget, e.g. 90s, 2m, 1h.")
@click.option("--seed", type=click.IntRange(min=0), default=0)
@click.option("--device", default=None, help="auto, cpu, cuda, cuda:1 …")
@click.option("--threads", "num_threads", type=click.IntRange(min=1), default=None, help="torch CPU threads.")
@click.option("--train-samples", type=int, default=None, help="Use only the first N training strings.")
@click.option("--set", "sets", multiple=True, help="Model option KEY=VALUE (e.g. hidden=128), repeatable.")
@click.option("--amp", type=click.Choice(["bf16", "fp16"]), default=None,
              help="Mixed-precision training step (fp16: CUDA only).")
@click.option("--stream", is_flag=True, help="Read the training split chunk by chunk (data larger than memory).")
@click.option("--buffer", type=click.IntRange(min=1), default=None,
              help="With --stream: strings per shard in the shuffle buffer [default: 262144].")
@click.option("--shards", type=click.IntRange(min=1), default=None,
              help="With --stream: chunk streams; runs with equal shards see equal batches [default: processes].")
@click.option("--bootstrap", default="auto", show_default=True,
              help="Bootstrap refits on resampled shots for finite-data error bars: K (0: none), or auto "
                   "(8 where cheap: training strings × qubits ≤ 20,000).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last checkpoint.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def train(data, model_name, preset, output, epochs, batch_size, lr, schedule, patience, max_time, seed, device,
          num_threads, train_samples, sets, amp, stream, buffer, shards, bootstrap, resume, quiet) -> None:
    """Train a generative model on the measurements in DATA.

    Runs unchanged under torchrun (DistributedDataParallel; gloo on CPU, NCCL on CUDA):
    each process trains on its share of every global batch of --batch-size strings.

    \b
    Example:  qgen train tfim50.h5 --model rnn -o runs/tfim50 --max-time 2m
              torchrun --no-python --nproc-per-node 2 qgen train tfim50.h5 -o runs/ddp
              qgen train big.h5 --stream --buffer 262144 -o runs/big
    """
    from qgen.training import distributed
    from qgen.workflows import fit

    if not stream and (buffer is not None or shards is not None):
        raise click.BadParameter("only with --stream", param_hint="--buffer/--shards")
    if stream and train_samples is not None:
        raise click.BadParameter("cannot be combined with --stream", param_hint="--train-samples")
    if bootstrap != "auto":
        try:
            bootstrap = int(bootstrap)
        except ValueError:
            raise click.BadParameter(f"expected an integer or 'auto', got '{bootstrap}'",
                                     param_hint="--bootstrap") from None
    t0 = time.perf_counter()
    run = fit(data, model_name, output, preset=preset, seed=seed, resume=resume, progress=not quiet,
              bootstrap=bootstrap, model_options=_parse_set(sets), train_samples=train_samples, stream=stream,
              buffer=buffer, shards=shards, epochs=epochs, batch_size=batch_size, lr=lr, schedule=schedule,
              patience=patience, max_time=max_time, device=device, num_threads=num_threads, amp=amp)
    result, model = run.result, run.model
    if not distributed.from_env().is_main:
        return
    n_params = sum(p.numel() for p in model.parameters())
    click.echo(f"schedule  {run.schedule}")
    last = result.history[-1] if result.history else {}
    click.echo(f"trained   {model.name} ({n_params:,} parameters) for {len(result.history)} epochs in "
               f"{time.perf_counter() - t0:.1f} s; stopped by {result.stop_reason}")
    if last:
        click.echo(f"{model.loss_name:<9} train {last[f'train_{model.loss_name}']:.4f}, best validation "
                   f"{model.val_name} {result.best_val:.4f} "
                   f"(epoch {result.best_epoch}); {last.get('samples_per_s', 0):,.0f} samples/s")
    click.echo(f"wrote     {result.model_path} (+ checkpoint, metrics.jsonl, training_curve.png)")
    if run.refits:
        click.echo(f"bootstrap {len(run.refits)} refits on resampled shots in {run.out_dir / 'bootstrap'} "
                   "(qgen evaluate uses them for finite-data error bars)")


@cli.command()
@click.argument("run", type=click.Path(exists=True))
@click.option("-n", "n_samples", type=click.IntRange(min=1), default=100_000, help="Number of strings.")
@click.option("--seed", type=click.IntRange(min=0), default=0)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output .h5 file.")
def sample(run, n_samples, seed, output) -> None:
    """Draw outcome strings (with their model ln q) from the trained model in RUN."""
    from qgen.measurements import get_povm
    from qgen.training import load_model, stored_povm
    from qgen.workflows import model_sample

    output = writable_output(output)
    model, meta = load_model(run)
    povm = stored_povm(meta)
    if povm is None:  # a model file from before POVMs were stored with models: a named POVM
        try:
            povm = get_povm(meta.get("dataset", {}).get("povm", "custom"))
        except ValueError:
            raise click.ClickException(f"{run} was trained before models stored their POVM, and its POVM "
                                       "is not one qgen knows by name; retrain it") from None
    t0 = time.perf_counter()
    x, lq = model_sample(model, n_samples, seed)
    write_samples(output, x, lq, povm, {"model": meta["model"], "run": str(run), "seed": seed})
    click.echo(f"sampled   {n_samples:,} strings in {time.perf_counter() - t0:.1f} s"
               + ("" if lq is not None else " (this model has no likelihood: ln q stored as NaN)"))
    click.echo(f"wrote     {output}")
