#!/usr/bin/env python3
"""Save one DINO training step's criterion input in dino-gen's flattened layout (DESIGN §3).

In DINO's training loop (engine.py, right after `outputs = model(samples, targets)`):

    from save_dino_batch import save_dino_batch
    save_dino_batch(outputs, targets, 'step.safetensors')

then `dino-gen eval step.safetensors` computes the same loss dict as `criterion(outputs, targets)`.

Nested dicts and lists are flattened with dots (`aux_outputs.0.pred_logits`, `interm_outputs.pred_boxes`,
`enc_outputs.0.pred_logits`, `dn_meta.output_known_lbs_bboxes.aux_outputs.2.pred_boxes`, …); the integers
`dn_meta.pad_size` and `dn_meta.num_dn_group` become 0-d int64 tensors; every image's target becomes
`targets.{b}.labels`, `targets.{b}.boxes` and (when present) `targets.{b}.masks`; the other target
fields (image_id, size, …) are not needed and not saved. Tensors are detached, copied to the CPU and
made contiguous; their dtypes are kept (float32, float16 or bfloat16 predictions all load).

Run as a script, it saves a random batch shaped like DINO_4scale's (B = 2, 900 queries, 91 classes,
6 decoder layers, two-stage proposals, denoising queries padded to about 200) and checks that safetensors loads back the
same tensors:  python3 bench/save_dino_batch.py [PATH]
Needs torch and safetensors (pip install torch safetensors).
"""
import sys

import torch
from safetensors.torch import load_file, save_file


def flatten(node, prefix, out):
    """Adds the tensors of a nested dict/list/tuple to out under dotted names."""
    if node is None:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            flatten(value, f'{prefix}{key}.', out)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            flatten(value, f'{prefix}{i}.', out)
    elif isinstance(node, torch.Tensor):
        # a copy, so that views of one stacked tensor (pred_logits and aux_outputs are slices of the
        # decoder's output) are saved as separate tensors: safetensors refuses shared storage
        out[prefix[:-1]] = node.detach().to('cpu', copy=True).contiguous()
    elif isinstance(node, bool):
        raise TypeError(f'{prefix[:-1]}: a bool is not a tensor dino-gen reads')
    elif isinstance(node, int):
        out[prefix[:-1]] = torch.tensor(node, dtype=torch.int64)  # dn_meta.pad_size, dn_meta.num_dn_group
    else:
        raise TypeError(f'{prefix[:-1]}: cannot save a {type(node).__name__}')


def flatten_batch(outputs, targets):
    """The name -> tensor dict of one criterion call."""
    tensors = {}
    flatten(outputs, '', tensors)
    for b, target in enumerate(targets):
        for key in ('labels', 'boxes', 'masks'):
            if key in target:
                flatten(target[key], f'targets.{b}.{key}.', tensors)
    return tensors


def save_dino_batch(outputs, targets, path):
    """Writes SetCriterion's (outputs, targets) to a .safetensors file dino-gen can evaluate.

    Returns the dict of saved tensors (names as in the file).
    """
    tensors = flatten_batch(outputs, targets)
    save_file(tensors, str(path))
    return tensors


def random_dino_batch(batch=2, queries=900, classes=91, layers=6, dn_number=100, seed=0):
    """A random (outputs, targets) pair with the structure and shapes of DINO_4scale in training."""
    g = torch.Generator().manual_seed(seed)
    counts = [int(n) for n in torch.randint(0, 30, (batch,), generator=g)]
    targets = []
    for n in counts:
        centers = torch.rand(n, 2, generator=g) * 0.8 + 0.1
        sizes = torch.rand(n, 2, generator=g) * 0.3 + 0.02
        targets.append({'labels': torch.randint(0, classes, (n,), generator=g), 'boxes': torch.cat([centers, sizes], 1),
                        'image_id': torch.tensor([len(targets)]), 'orig_size': torch.tensor([480, 640])})
    # as dn_components.prepare_for_cdn sizes it: groups of 2 × (most targets) queries (a positive and a
    # negative half), about 2 × dn_number queries in all
    most = max(counts + [1])
    groups = max(1, 2 * dn_number // (2 * most))
    pad_size = 2 * most * groups
    total = pad_size + queries
    # the decoder's stacked output (layers × B × (pad_size + Q) × …), split as dn_post_process does
    outputs_class = torch.randn(layers, batch, total, classes, generator=g) * 2 - 4
    outputs_coord = torch.rand(layers, batch, total, 4, generator=g) * 0.5 + 0.05
    known_class, known_coord = outputs_class[:, :, :pad_size], outputs_coord[:, :, :pad_size]
    match_class, match_coord = outputs_class[:, :, pad_size:], outputs_coord[:, :, pad_size:]

    def heads(cls, coord):
        return [{'pred_logits': a, 'pred_boxes': b} for a, b in zip(cls[:-1], coord[:-1])]

    interm_class = torch.randn(batch, queries, classes, generator=g) - 3
    outputs = {
        'pred_logits': match_class[-1], 'pred_boxes': match_coord[-1],
        'aux_outputs': heads(match_class, match_coord),
        'interm_outputs': {'pred_logits': interm_class, 'pred_boxes': torch.rand(batch, queries, 4, generator=g) * 0.5 + 0.05},
        # DINO also returns this (the criterion does not read it; dino-gen ignores it)
        'interm_outputs_for_matching_pre': {'pred_logits': interm_class,
                                            'pred_boxes': torch.rand(batch, queries, 4, generator=g) * 0.5 + 0.05},
        'dn_meta': {'pad_size': pad_size, 'num_dn_group': groups,
                    'output_known_lbs_bboxes': {'pred_logits': known_class[-1], 'pred_boxes': known_coord[-1],
                                                'aux_outputs': heads(known_class, known_coord)}},
    }
    return outputs, targets


def main(argv):
    path = argv[1] if len(argv) > 1 else 'dino_batch.safetensors'
    outputs, targets = random_dino_batch()
    saved = save_dino_batch(outputs, targets, path)
    loaded = load_file(path)
    assert sorted(loaded) == sorted(saved), 'the file holds other names than were saved'
    for name, tensor in saved.items():
        assert loaded[name].dtype == tensor.dtype and torch.equal(loaded[name], tensor), f'{name} differs after loading'
    # the saved tensors are the ones the criterion receives
    assert torch.equal(loaded['aux_outputs.3.pred_logits'], outputs['aux_outputs'][3]['pred_logits'])
    assert torch.equal(loaded['dn_meta.output_known_lbs_bboxes.aux_outputs.4.pred_boxes'],
                       outputs['dn_meta']['output_known_lbs_bboxes']['aux_outputs'][4]['pred_boxes'])
    assert loaded['dn_meta.pad_size'].dim() == 0 and loaded['dn_meta.pad_size'].dtype == torch.int64
    assert int(loaded['dn_meta.num_dn_group']) == outputs['dn_meta']['num_dn_group']
    assert torch.equal(loaded['targets.1.labels'], targets[1]['labels'])
    size = sum(t.numel() * t.element_size() for t in saved.values())
    print(f'{path}: {len(saved)} tensors, {size / 1e6:.1f} MB; loading it back gives the same tensors')
    print(f'evaluate it with: dino-gen eval {path}')


if __name__ == '__main__':
    main(sys.argv)
