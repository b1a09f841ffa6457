#!/usr/bin/env python3
"""dino-gen against upstream's PyTorch criterion: the speed and memory targets, on one input.

For T = 1 and 2 threads, on the same input, it runs `dino-gen bench FILE --json --threads T` and the
PyTorch peer (bench/torch_criterion.py --time, torch.set_num_threads(T), scipy's
linear_sum_assignment included, the file load excluded on both sides), then checks the targets:

  whole criterion vs PyTorch, 1 and 2 threads     ≥ 30× faster
  criterion / floor (dino-gen's focal pass)       ≤ 1.5
  time of B = 16 / time of B = 2 (example batch,   ≤ 8.5
    15 targets in every image)
  2 threads vs 1 thread on FILE                   ≥ 1.7× faster
  peak RSS of `dino-gen eval FILE`                ≤ 2 × file size + 30 MB

Every time is a median over --repeat runs after --warmup runs, measured again in each of --rounds rounds;
each ratio is the median of the rounds' ratios, its two sides measured next to each other (dino-gen's
criterion and floor alternate run by run inside one process). FILE defaults to the W0 case,
../shared/conformance/coco_b2.safetensors next to the repository when present, else the example batch
of `dino-gen eval --write-example`. Without torch (or scipy) the PyTorch rows are skipped with a message.

usage: bench/compare.py [FILE] [--binary .build/release/dino-gen] [--repeat 20] [--warmup 3] [--rounds 3] [--json]
Exit status: 0 when everything was measured (targets met or not; with --strict, 1 when one is not met),
1 when dino-gen failed, 2 on a usage error.
"""
import argparse
import importlib.util
import json
import os
import shutil
from statistics import median
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
W0_CASE = os.path.normpath(os.path.join(ROOT, '..', 'shared', 'conformance', 'coco_b2.safetensors'))
MB = 1e6  # the memory limit's 30 MB, and the MB printed, are 10^6 bytes
SCALING_TARGETS = 15  # targets per image of the B = 2 and B = 16 scaling batches

TARGETS = {  # name: (comparison, bound)
    'speedup_vs_torch': ('>=', 30.0),
    'criterion_over_floor': ('<=', 1.5),
    'batch16_over_batch2': ('<=', 8.5),
    'two_threads_speedup': ('>=', 1.7),
}


class Failure(Exception):
    """dino-gen could not be run or answered something unexpected."""


def run(cmd, what):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    except FileNotFoundError:
        raise Failure(f'{cmd[0]}: not found (build it with `swift build -c release`, or pass --binary)')
    except subprocess.TimeoutExpired:
        raise Failure(f'{what}: no answer in 30 minutes')
    if p.returncode != 0:
        raise Failure(f'{what} failed (exit {p.returncode}): {" ".join(cmd)}\n{p.stderr.strip()[-600:]}')
    return p.stdout


def dino_gen_bench(binary, path, threads, repeat, warmup):
    """`dino-gen bench PATH --json`: the JSON object (times are medians in seconds)."""
    cmd = [binary, 'bench', path, '--json', '--threads', str(threads), '--repeat', str(repeat), '--warmup', str(warmup)]
    try:
        out = run(cmd, 'dino-gen bench')
    except Failure as error:
        if 'exit 2' in str(error):  # a usage error: most likely a dino-gen from before the bench command
            raise Failure(f'{error}\n(this dino-gen does not seem to have `dino-gen bench --json`; rebuild it from a newer checkout)')
        raise
    try:
        report = json.loads(out.strip().splitlines()[-1])
        stages = report['stages']
        float(stages['criterion']), float(report['floor'])
    except Exception as error:
        raise Failure(f'dino-gen bench: unexpected output ({type(error).__name__}: {error}): {out.strip()[-300:]!r}')
    return report


def torch_status():
    """None when the PyTorch peer can run here, else the reason it cannot."""
    for module, hint in (('torch', 'pip install torch --index-url https://download.pytorch.org/whl/cpu'),
                         ('scipy', 'pip install scipy'), ('safetensors', 'pip install safetensors')):
        if importlib.util.find_spec(module) is None:
            return f'{module} is not installed ({hint})'
    return None


def torch_time(path, threads, repeat, warmup, grad):
    """The peer's --time figures in a fresh process (so every thread count starts alike), or a reason string."""
    cmd = [sys.executable, os.path.join(HERE, 'torch_criterion.py'), '--time', path, '--threads', str(threads),
           '--repeat', str(repeat), '--warmup', str(warmup), '--json'] + (['--grad'] if grad else [])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode == 3:  # torch or scipy is not importable
        return p.stderr.strip() or 'torch is not importable'
    if p.returncode != 0:
        raise Failure(f'torch_criterion.py --time failed (exit {p.returncode}):\n{p.stderr.strip()[-600:]}')
    return json.loads(p.stdout.strip().splitlines()[-1])


def peak_rss(binary, path):
    """Peak resident bytes of `dino-gen eval PATH` alone: the child's own rusage from wait4."""
    actions = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
    try:
        pid = os.posix_spawn(binary, [binary, 'eval', path], os.environ, file_actions=actions)
    except OSError as error:
        raise Failure(f'{binary}: cannot run ({error})')
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise Failure(f'dino-gen eval {path} failed (exit {os.waitstatus_to_exitcode(status)})')
    return usage.ru_maxrss * 1024  # Linux reports KiB


def write_example(binary, path, batch, targets=None):
    extra = [] if targets is None else ['--example-targets', str(targets)]
    run([binary, 'eval', '--write-example', path, '--example-batch', str(batch)] + extra,
        f'dino-gen eval --write-example (batch {batch})')
    return path


def target(name, label, value, bound=None, op=None):
    op, default_bound = TARGETS.get(name, (op, bound))
    bound = default_bound if bound is None else bound
    met = None if value is None else (value >= bound if op == '>=' else value <= bound)
    return {'name': name, 'label': label, 'value': value, 'op': op, 'bound': bound, 'met': met}


def measure(args, tmp):
    binary = args.binary
    if os.sep not in binary:  # a bare name: look it up on PATH
        binary = shutil.which(binary) or binary
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        raise Failure(f'{binary}: no such executable (build it with `swift build -c release`, or pass --binary)')
    path = args.file
    if path is None:
        path = W0_CASE if os.path.isfile(W0_CASE) else write_example(binary, os.path.join(tmp, 'w0.safetensors'), 2)
    elif not os.path.isfile(path):
        raise Failure(f'{path}: no such file')
    result = {'input': path, 'file_bytes': os.path.getsize(path), 'repeat': args.repeat, 'warmup': args.warmup,
              'threads': args.threads, 'load_average': os.getloadavg()[0], 'cpus': os.cpu_count()}

    # memory first, alone: the child's peak RSS against the limit
    rss = peak_rss(binary, path)
    limit = 2 * result['file_bytes'] + 30 * MB
    result['memory'] = {'peak_rss_bytes': rss, 'limit_bytes': limit}

    skip = torch_status() if not args.no_torch else 'not requested (--no-torch)'
    # the scaling batches: the built-in example at B = 2 and B = 16 with the same targets per image (15, the
    # mean of W0's 0 … 29), so that B = 16 is 8 times the work of B = 2
    small = write_example(binary, os.path.join(tmp, 'example_b2.safetensors'), 2, SCALING_TARGETS)
    large = write_example(binary, os.path.join(tmp, 'example_b16.safetensors'), 16, SCALING_TARGETS)

    # Rounds: every figure a ratio is made of is measured again in each round, its two sides next to each
    # other, and each ratio is the median over the rounds of that round's ratio. On a shared machine the
    # speed drifts by tens of percent from one minute to the next; a ratio of two figures taken minutes
    # apart would measure the drift.
    rounds = []
    for _ in range(args.rounds):
        r = {'dino_gen': {}, 'torch': {}, 'scaling': {}}
        for t in args.threads:
            r['dino_gen'][t] = dino_gen_bench(binary, path, t, args.repeat, args.warmup)
            if skip is None:
                answer = torch_time(path, t, args.repeat, args.warmup, args.torch_grad)
                if isinstance(answer, str):
                    skip = answer
                else:
                    r['torch'][t] = answer
        for t in args.threads:
            b2 = dino_gen_bench(binary, small, t, args.repeat, args.warmup)
            b16 = dino_gen_bench(binary, large, t, args.repeat, args.warmup)
            s2, s16 = b2['stages']['criterion'], b16['stages']['criterion']
            # the floor's own ratio, for reading the criterion's: it shows what the machine's caches and memory
            # make of 8 times the data
            r['scaling'][t] = {'batch_2': s2, 'batch_16': s16, 'ratio': s16 / s2, 'floor_ratio': b16['floor'] / b2['floor']}
        rounds.append(r)
    result['rounds'] = rounds
    result['torch_skipped'] = skip

    # the tables show each figure's median over the rounds
    result['dino_gen'] = {}
    for t in args.threads:
        first = rounds[0]['dino_gen'][t]
        stages = {name: median([r['dino_gen'][t]['stages'][name] for r in rounds if name in r['dino_gen'][t]['stages']])
                  for name in first['stages']}
        result['dino_gen'][t] = dict(first, stages=stages, floor=median([r['dino_gen'][t]['floor'] for r in rounds]))
    result['torch'] = {}
    if skip is None:
        for t in args.threads:
            first = rounds[0]['torch'][t]
            result['torch'][t] = dict(first, median_seconds=median([r['torch'][t]['median_seconds'] for r in rounds]),
                                      min_seconds=min(r['torch'][t]['min_seconds'] for r in rounds),
                                      scipy_median_seconds=median([r['torch'][t]['scipy_median_seconds'] for r in rounds]))
    result['scaling'] = {t: {key: median([r['scaling'][t][key] for r in rounds]) for key in ('batch_2', 'batch_16', 'ratio', 'floor_ratio')}
                         for t in args.threads}

    def ratio(name, label, per_round, bound=None, op=None):
        values = [per_round(r) for r in rounds]
        if any(v is None for v in values):
            return target(name, label, None, bound, op)
        x = target(name, label, median(values), bound, op)
        x['rounds'] = values
        return x

    targets = []
    for t in args.threads:
        targets.append(ratio('speedup_vs_torch', f'PyTorch / dino-gen, {t} thread{"s" * (t != 1)}',
                             lambda r, t=t: r['torch'][t]['median_seconds'] / r['dino_gen'][t]['stages']['criterion']
                             if t in r['torch'] else None))
    for t in args.threads:
        targets.append(ratio('criterion_over_floor', f'criterion / floor, {t} thread{"s" * (t != 1)}',
                             lambda r, t=t: r['dino_gen'][t]['stages']['criterion'] / r['dino_gen'][t]['floor']))
    for t in args.threads:
        targets.append(ratio('batch16_over_batch2', f'time B=16 / B=2, {t} thread{"s" * (t != 1)}',
                             lambda r, t=t: r['scaling'][t]['ratio']))
    if 1 in args.threads and 2 in args.threads:
        targets.append(ratio('two_threads_speedup', '2 threads vs 1, dino-gen criterion',
                             lambda r: r['dino_gen'][1]['stages']['criterion'] / r['dino_gen'][2]['stages']['criterion']))
    targets.append(target('peak_rss', 'peak RSS of dino-gen eval (MB)', rss / MB, limit / MB, '<='))
    result['targets'] = targets
    return result


def ms(seconds):
    return '—' if seconds is None else f'{seconds * 1e3:.2f} ms'


def report(result):
    lines = []
    threads = result['threads']
    first = result['dino_gen'][threads[0]]
    lines.append(f'{result["input"]}: batch {first.get("batch", "?")}, {result["file_bytes"] / MB:.1f} MB; '
                 f'medians of {result["repeat"]} runs after {result["warmup"]} warm-up runs, in each of {len(result["rounds"])} rounds '
                 f'(figures: the median over the rounds; a ratio: the median of the rounds\' ratios); '
                 f'{result["cpus"]} CPUs, load average {result["load_average"]:.2f} at the start')
    if result['load_average'] > 0.5:
        lines.append(f'warning: other processes use the CPUs (load average {result["load_average"]:.2f}); '
                     'the timings, the 2-thread ones first, are less reliable than on an idle machine')
    if result['torch_skipped']:
        lines.append(f'PyTorch: skipped: {result["torch_skipped"]}')
    else:
        peer = result['torch'][threads[0]]
        lines.append(f'PyTorch {peer["torch_version"]}' + (' (predictions require grad)' if peer.get('grad') else ''))
    head = [f'{t} thread{"s" * (t != 1)}' for t in threads]
    rows = []
    stage_names = []
    for t in threads:
        for name in result['dino_gen'][t]['stages']:
            if name not in stage_names:
                stage_names.append(name)
    for name in stage_names:
        label = 'dino-gen criterion (no load)' if name == 'criterion' else f'dino-gen {name}'
        rows.append([label] + [ms(result['dino_gen'][t]['stages'].get(name)) for t in threads])
    rows.append(['dino-gen floor (focal pass)'] + [ms(result['dino_gen'][t]['floor']) for t in threads])
    if result['torch']:
        rows.append(['PyTorch criterion (no load)'] + [ms(result['torch'][t]['median_seconds']) for t in threads])
        rows.append(['  fastest run'] + [ms(result['torch'][t]['min_seconds']) for t in threads])
        rows.append(['  of which scipy matching'] + [ms(result['torch'][t]['scipy_median_seconds']) for t in threads])
    rows.append(['example B=2 criterion'] + [ms(result['scaling'][t]['batch_2']) for t in threads])
    rows.append(['example B=16 criterion'] + [ms(result['scaling'][t]['batch_16']) for t in threads])
    rows.append(['  B=16 / B=2 of the floor (no target)'] + [f'{result["scaling"][t]["floor_ratio"]:.2f}' for t in threads])
    width = max(len(r[0]) for r in rows)
    cols = [max(len(h), *(len(r[i + 1]) for r in rows)) for i, h in enumerate(head)]
    lines.append('')
    lines.append(' ' * width + ''.join(f'  {h:>{w}}' for h, w in zip(head, cols)))
    for r in rows:
        lines.append(f'{r[0]:<{width}}' + ''.join(f'  {v:>{w}}' for v, w in zip(r[1:], cols)))
    lines.append('')
    width = max(len(x['label']) for x in result['targets'])
    lines.append(f'{"target":<{width}}  {"measured":>9}  {"target":>10}  result      rounds')
    met = unmet = 0
    for x in result['targets']:
        if x['value'] is None:
            value, verdict = '—', 'skipped (no PyTorch)'
        else:
            value = f'{x["value"]:.2f}'
            verdict = 'met' if x['met'] else 'NOT MET'
            met += bool(x['met'])
            unmet += not x['met']
        bound = f'{"≥" if x["op"] == ">=" else "≤"} {x["bound"]:.2f}'
        spread = ' '.join(f'{v:.2f}' for v in x.get('rounds', []))
        lines.append(f'{x["label"]:<{width}}  {value:>9}  {bound:>10}  {verdict:<10}  {spread}')
    lines.append(f'{met} targets met, {unmet} not met' + (', PyTorch skipped' if result['torch_skipped'] else ''))
    return '\n'.join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split('\n\n', 1)[1])
    ap.add_argument('file', nargs='?', help='input file (default: the W0 case coco_b2, else the example batch)')
    ap.add_argument('--binary', default=os.path.join(ROOT, '.build', 'release', 'dino-gen'),
                    help='the dino-gen executable (default: .build/release/dino-gen of this checkout)')
    ap.add_argument('--repeat', type=int, default=20, help='timed runs per figure (medians are reported)')
    ap.add_argument('--warmup', type=int, default=3, help='untimed runs before timing')
    ap.add_argument('--rounds', type=int, default=3, help='rounds of every measurement (ratios are medians over them)')
    ap.add_argument('--threads', default='1,2', help='comma-separated thread counts (default 1,2)')
    ap.add_argument('--no-torch', action='store_true', help='measure dino-gen only')
    ap.add_argument('--torch-grad', action='store_true',
                    help='time PyTorch with predictions requiring grad, as in training (default: no autograd graph)')
    ap.add_argument('--json', action='store_true', help='print one JSON object instead of the tables')
    ap.add_argument('--strict', action='store_true', help='exit 1 when a target is not met')
    args = ap.parse_args(argv)
    try:
        args.threads = sorted({int(t) for t in args.threads.split(',') if t.strip()})
    except ValueError:
        ap.error('--threads takes comma-separated integers, e.g. 1,2')
    if args.repeat < 1 or args.warmup < 0 or args.rounds < 1 or not args.threads or min(args.threads) < 1:
        ap.error('--repeat, --rounds and every thread count must be at least 1, --warmup at least 0')
    with tempfile.TemporaryDirectory(prefix='dino-gen-compare-') as tmp:
        try:
            result = measure(args, tmp)
        except Failure as error:
            print(f'compare.py: {error}', file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(result))
    else:
        print(report(result))
        if result['torch_skipped']:
            print(f'note: the PyTorch comparison was skipped ({result["torch_skipped"]})', file=sys.stderr)
    if args.strict and any(x['met'] is False for x in result['targets']):
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
