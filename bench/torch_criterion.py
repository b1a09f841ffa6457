#!/usr/bin/env python3
"""DINO's training criterion in PyTorch on the CPU: the peer that dino-gen is compared with.

It follows upstream IDEA-Research/DINO (models/dino/matcher.py HungarianMatcher and
SimpleMinsumMatcher, models/dino/dino.py SetCriterion in training mode, util/box_ops.py) op by op,
in float32 (or float64 with --dtype float64), with scipy's linear_sum_assignment for the matching,
but reads its input from one of dino-gen's files (.safetensors or .npz, the flattened or the
stacked layout) and runs without CUDA.

usage:
  torch_criterion.py FILE [criterion flags] [--json] [--indices]   the loss dict of one file
  torch_criterion.py --check DIR [--rtol 1e-5] [--verbose]        compare with DIR/*.expected.json
  torch_criterion.py --time FILE --repeat N --threads T [--json]  median seconds of the criterion

Criterion flags mirror `dino-gen eval`: --matcher hungarian|minsum, --cost-class, --cost-bbox,
--cost-giou, --focal-alpha, --focal-gamma, --cls-loss-coef, --bbox-loss-coef, --giou-loss-coef,
--interm-loss-coef, --no-interm-box-loss, --mask-loss-coef, --dice-loss-coef, --num-boxes.
Exit status: 0 success, 1 bad input or a failed check, 2 usage error, 3 torch is not importable.
"""
import argparse
import glob
import json
import math
import os
import statistics
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    TORCH_ERROR = None
except Exception as error:  # ImportError, or a broken install that fails while loading its libraries
    np = None
    torch = None
    F = None
    TORCH_ERROR = error

try:
    from scipy.optimize import linear_sum_assignment as _scipy_lsa
    SCIPY_ERROR = None
except Exception as error:
    _scipy_lsa = None
    SCIPY_ERROR = error


class InputError(Exception):
    """Bad input: the message names the file, the tensor and what is wrong."""


# ---------------------------------------------------------------------------------------------
# Options and weights


class Options:
    """The criterion's settings, with DINO_4scale's defaults (the flags of `dino-gen eval`)."""

    def __init__(self, **kw):
        self.matcher = 'hungarian'
        self.cost_class, self.cost_bbox, self.cost_giou = 2.0, 5.0, 2.0
        self.focal_alpha, self.focal_gamma = 0.25, 2.0
        self.cls_loss_coef, self.bbox_loss_coef, self.giou_loss_coef = 1.0, 5.0, 2.0
        self.interm_loss_coef, self.no_interm_box_loss = 1.0, False
        self.mask_loss_coef, self.dice_loss_coef = 1.0, 1.0
        self.num_boxes = None
        for key, value in kw.items():
            if not hasattr(self, key):
                raise TypeError(f'unknown option {key}')
            setattr(self, key, value)


def add_criterion_flags(parser):
    """Adds the criterion flags of `dino-gen eval` to an argparse parser."""
    o = Options()
    parser.add_argument('--matcher', choices=['hungarian', 'minsum'], default=o.matcher)
    for name in ['cost_class', 'cost_bbox', 'cost_giou', 'focal_alpha', 'focal_gamma', 'cls_loss_coef',
                 'bbox_loss_coef', 'giou_loss_coef', 'interm_loss_coef', 'mask_loss_coef', 'dice_loss_coef']:
        parser.add_argument('--' + name.replace('_', '-'), type=float, default=getattr(o, name))
    parser.add_argument('--no-interm-box-loss', action='store_true')
    parser.add_argument('--num-boxes', type=float, default=None)


def options_from_args(args):
    """Options from parsed criterion flags."""
    names = ['matcher', 'cost_class', 'cost_bbox', 'cost_giou', 'focal_alpha', 'focal_gamma', 'cls_loss_coef',
             'bbox_loss_coef', 'giou_loss_coef', 'interm_loss_coef', 'no_interm_box_loss', 'mask_loss_coef',
             'dice_loss_coef', 'num_boxes']
    return Options(**{n: getattr(args, n) for n in names})


def weight_dict(opts, num_aux, with_masks):
    """The weight dict of upstream's build_dino (use_dn, aux_loss and two-stage on)."""
    weights = {'loss_ce': opts.cls_loss_coef, 'loss_bbox': opts.bbox_loss_coef, 'loss_giou': opts.giou_loss_coef}
    clean_without_dn = dict(weights)
    weights['loss_ce_dn'] = opts.cls_loss_coef
    weights['loss_bbox_dn'] = opts.bbox_loss_coef
    weights['loss_giou_dn'] = opts.giou_loss_coef
    if with_masks:
        weights['loss_mask'] = opts.mask_loss_coef
        weights['loss_dice'] = opts.dice_loss_coef
    clean = dict(weights)
    for i in range(num_aux):
        weights.update({k + f'_{i}': v for k, v in clean.items()})
    box_factor = 0.0 if opts.no_interm_box_loss else 1.0
    factors = {'loss_ce': 1.0, 'loss_bbox': box_factor, 'loss_giou': box_factor}
    weights.update({k + '_interm': v * opts.interm_loss_coef * factors[k] for k, v in clean_without_dn.items()})
    return weights


# ---------------------------------------------------------------------------------------------
# Reading a file into the structure SetCriterion receives


def _read_tensors(path):
    """All tensors of a .safetensors or .npz file as a name -> torch.Tensor dict."""
    if not os.path.isfile(path):
        raise InputError(f'{path}: no such file')
    try:
        if path.endswith('.npz'):
            with np.load(path, allow_pickle=False) as data:
                return {name: torch.from_numpy(np.ascontiguousarray(data[name])) for name in data.files}
        from safetensors.torch import load_file
        return load_file(path)
    except InputError:
        raise
    except Exception as error:
        raise InputError(f'{path}: cannot read as {"npz" if path.endswith(".npz") else "safetensors"}: {error}')


def _nest(path, flat):
    """Unflattens dotted names into nested dicts; dicts keyed 0..n-1 become lists."""
    root = {}
    for name, tensor in flat.items():
        parts = name.split('.')
        node = root
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise InputError(f'{path}: tensor {".".join(parts[:depth + 1])} is also used as a prefix of {name}')
            node = child
        if parts[-1] in node:
            raise InputError(f'{path}: tensor {name} is also used as a prefix of other names')
        node[parts[-1]] = tensor

    def listify(node, prefix):
        if not isinstance(node, dict):
            return node
        out = {k: listify(v, f'{prefix}{k}.') for k, v in node.items()}
        if out and all(k.isdigit() for k in out):
            indices = sorted(int(k) for k in out)
            if indices != list(range(len(indices))):
                missing = next(i for i in range(len(indices) + 1) if i not in indices)
                raise InputError(f'{path}: {prefix}{missing}.* is missing (indices must run 0, 1, 2, …)')
            return [out[str(i)] for i in range(len(indices))]
        return out

    return listify(root, '')


def _as_float(path, name, tensor, dtype):
    if not isinstance(tensor, torch.Tensor):
        raise InputError(f'{path}: {name} is missing or not a tensor')
    if not tensor.is_floating_point():
        raise InputError(f'{path}: {name} has dtype {tensor.dtype}, expected a float type')
    if not bool(torch.isfinite(tensor).all()):
        bad = torch.nonzero(~torch.isfinite(tensor))[0].tolist()
        raise InputError(f'{path}: {name} holds a non-finite value at index {bad}')
    return tensor.to(dtype)


def _as_int(path, name, tensor):
    if not isinstance(tensor, torch.Tensor):
        raise InputError(f'{path}: {name} is missing or not a tensor')
    if tensor.dtype not in (torch.int64, torch.int32):
        raise InputError(f'{path}: {name} has dtype {tensor.dtype}, expected int64 or int32')
    return tensor.to(torch.int64)


def _head(path, prefix, node, dtype):
    if not isinstance(node, dict):
        raise InputError(f'{path}: {prefix or "the file"} must hold pred_logits and pred_boxes')
    p = prefix + '.' if prefix else ''
    for key in ('pred_logits', 'pred_boxes'):
        if key not in node:
            raise InputError(f'{path}: tensor {p}{key} is missing')
    logits = _as_float(path, p + 'pred_logits', node['pred_logits'], dtype)
    boxes = _as_float(path, p + 'pred_boxes', node['pred_boxes'], dtype)
    if logits.dim() != 3 or logits.shape[2] < 1:
        raise InputError(f'{path}: {p}pred_logits has shape {list(logits.shape)}, expected B×Q×C with C ≥ 1')
    if boxes.dim() != 3 or boxes.shape[2] != 4 or boxes.shape[:2] != logits.shape[:2]:
        raise InputError(f'{path}: {p}pred_boxes has shape {list(boxes.shape)}, expected '
                         f'{list(logits.shape[:2]) + [4]} (B×Q×4, as {p}pred_logits)')
    bad = torch.nonzero((boxes[..., 2] < 0) | (boxes[..., 3] < 0))
    if len(bad):
        raise InputError(f'{path}: {p}pred_boxes has a negative width or height at index {bad[0].tolist()}')
    return {'pred_logits': logits, 'pred_boxes': boxes}


def _scalar(path, name, tensor):
    value = _as_int(path, name, tensor)
    if value.numel() != 1:
        raise InputError(f'{path}: {name} has shape {list(value.shape)}, expected a scalar')
    return int(value.reshape(()).item())


def read_batch(path, dtype=None):
    """Reads a dino-gen input file into (outputs, targets) as upstream's SetCriterion receives them.

    outputs holds pred_logits, pred_boxes, aux_outputs (a list), interm_outputs, enc_outputs (a list),
    pred_masks and dn_meta (None, or pad_size, num_dn_group and output_known_lbs_bboxes); targets is a
    list of dicts with labels, boxes and masks. Raises InputError naming the tensor on bad input.
    """
    if torch is None:
        raise RuntimeError(f'torch is not importable: {TORCH_ERROR}')
    dtype = dtype or torch.float32
    tree = _nest(path, _read_tensors(path))
    known = {'pred_logits', 'pred_boxes', 'aux_outputs', 'interm_outputs', 'enc_outputs', 'dn_meta', 'pred_masks',
             'targets', 'outputs_class', 'outputs_coord'}
    # other entries of DINO's outputs dict (interm_outputs_for_matching_pre, …) are not read by
    # SetCriterion, so they are ignored here, as upstream and dino-gen ignore them
    tree = {k: v for k, v in tree.items() if k in known}

    dn_meta = None
    pad_size = 0
    meta = tree.get('dn_meta')
    if meta is not None:
        if not isinstance(meta, dict) or 'pad_size' not in meta or 'num_dn_group' not in meta:
            raise InputError(f'{path}: dn_meta needs both dn_meta.pad_size and dn_meta.num_dn_group')
        pad_size = _scalar(path, 'dn_meta.pad_size', meta['pad_size'])
        groups = _scalar(path, 'dn_meta.num_dn_group', meta['num_dn_group'])
        if groups < 1 or pad_size < 0 or pad_size % groups != 0:
            raise InputError(f'{path}: dn_meta.pad_size ({pad_size}) must be divisible by dn_meta.num_dn_group ({groups} ≥ 1)')
        dn_meta = {'pad_size': pad_size, 'num_dn_group': groups}

    outputs = {}
    if 'outputs_class' in tree or 'outputs_coord' in tree:
        # the stacked layout: upstream's dn_post_process and _set_aux_loss
        for name in ('pred_logits', 'pred_boxes', 'aux_outputs'):
            if name in tree:
                raise InputError(f'{path}: {name} and outputs_class/outputs_coord (the stacked layout) are both present')
        if meta is not None and 'output_known_lbs_bboxes' in meta:
            raise InputError(f'{path}: dn_meta.output_known_lbs_bboxes and the stacked layout are both present')
        cls = _as_float(path, 'outputs_class', tree.get('outputs_class'), dtype)
        coord = _as_float(path, 'outputs_coord', tree.get('outputs_coord'), dtype)
        if cls.dim() != 4 or cls.shape[0] < 1 or cls.shape[3] < 1:
            raise InputError(f'{path}: outputs_class has shape {list(cls.shape)}, expected L×B×(pad_size+Q)×C')
        if coord.dim() != 4 or coord.shape[3] != 4 or coord.shape[:3] != cls.shape[:3]:
            raise InputError(f'{path}: outputs_coord has shape {list(coord.shape)}, expected {list(cls.shape[:3]) + [4]}')
        if cls.shape[2] <= pad_size:
            raise InputError(f'{path}: outputs_class has {cls.shape[2]} queries, not more than dn_meta.pad_size ({pad_size})')
        if dn_meta is not None and pad_size > 0:
            known_class, known_coord = cls[:, :, :pad_size], coord[:, :, :pad_size]
            known = {'pred_logits': known_class[-1], 'pred_boxes': known_coord[-1],
                     'aux_outputs': [{'pred_logits': a, 'pred_boxes': b} for a, b in zip(known_class[:-1], known_coord[:-1])]}
            dn_meta['output_known_lbs_bboxes'] = known
        cls, coord = cls[:, :, pad_size:], coord[:, :, pad_size:]
        outputs['pred_logits'], outputs['pred_boxes'] = cls[-1], coord[-1]
        layers = [{'pred_logits': a, 'pred_boxes': b} for a, b in zip(cls[:-1], coord[:-1])]
        for i, layer in enumerate(layers):
            _head(path, f'outputs_class[{i}]', layer, dtype)
        _head(path, f'outputs_class[{cls.shape[0] - 1}]', {'pred_logits': outputs['pred_logits'], 'pred_boxes': outputs['pred_boxes']}, dtype)
        outputs['aux_outputs'] = layers
    else:
        outputs.update(_head(path, '', tree, dtype))
        aux = tree.get('aux_outputs', [])
        if not isinstance(aux, list):
            raise InputError(f'{path}: aux_outputs.* must be numbered 0, 1, …')
        outputs['aux_outputs'] = [_head(path, f'aux_outputs.{i}', h, dtype) for i, h in enumerate(aux)]
        if dn_meta is not None:
            known_node = meta.get('output_known_lbs_bboxes')
            if known_node is None:
                raise InputError(f'{path}: dn_meta.output_known_lbs_bboxes.pred_logits is missing (dn_meta scalars are present)')
            p = 'dn_meta.output_known_lbs_bboxes'
            known = _head(path, p, known_node, dtype)
            known_aux = known_node.get('aux_outputs', []) if isinstance(known_node, dict) else []
            if not isinstance(known_aux, list):
                raise InputError(f'{path}: {p}.aux_outputs.* must be numbered 0, 1, …')
            known['aux_outputs'] = [_head(path, f'{p}.aux_outputs.{i}', h, dtype) for i, h in enumerate(known_aux)]
            dn_meta['output_known_lbs_bboxes'] = known
    if 'interm_outputs' in tree:
        outputs['interm_outputs'] = _head(path, 'interm_outputs', tree['interm_outputs'], dtype)
    if 'enc_outputs' in tree:
        enc = tree['enc_outputs']
        if not isinstance(enc, list):
            raise InputError(f'{path}: enc_outputs.* must be numbered 0, 1, …')
        outputs['enc_outputs'] = [_head(path, f'enc_outputs.{j}', h, dtype) for j, h in enumerate(enc)]
    outputs['dn_meta'] = dn_meta

    batch, num_queries, num_classes = outputs['pred_logits'].shape

    def heads():
        yield 'pred_logits', outputs, num_queries
        for i, h in enumerate(outputs['aux_outputs']):
            yield f'aux_outputs.{i}.pred_logits', h, num_queries
        if 'interm_outputs' in outputs:
            yield 'interm_outputs.pred_logits', outputs['interm_outputs'], None
        for j, h in enumerate(outputs.get('enc_outputs', [])):
            yield f'enc_outputs.{j}.pred_logits', h, None
        if dn_meta is not None:
            known = dn_meta['output_known_lbs_bboxes']
            yield 'dn_meta.output_known_lbs_bboxes.pred_logits', known, pad_size
            for i, h in enumerate(known['aux_outputs']):
                yield f'dn_meta.output_known_lbs_bboxes.aux_outputs.{i}.pred_logits', h, pad_size

    for name, head, queries in heads():
        b, q, c = head['pred_logits'].shape
        if b != batch or c != num_classes or (queries is not None and q != queries):
            want = [batch, queries if queries is not None else q, num_classes]
            raise InputError(f'{path}: {name} has shape {[b, q, c]}, expected {want}')
    if dn_meta is not None and len(dn_meta['output_known_lbs_bboxes']['aux_outputs']) != len(outputs['aux_outputs']):
        raise InputError(f'{path}: {len(outputs["aux_outputs"])} auxiliary layers but '
                         f'{len(dn_meta["output_known_lbs_bboxes"]["aux_outputs"])} denoising auxiliary layers')

    if 'pred_masks' in tree:
        masks = _as_float(path, 'pred_masks', tree['pred_masks'], dtype)
        if masks.dim() != 4 or masks.shape[:2] != (batch, num_queries) or masks.shape[2] < 1 or masks.shape[3] < 1:
            raise InputError(f'{path}: pred_masks has shape {list(masks.shape)}, expected {[batch, num_queries]}×h×w')
        outputs['pred_masks'] = masks

    raw_targets = tree.get('targets')
    if not isinstance(raw_targets, list) or len(raw_targets) != batch:
        count = len(raw_targets) if isinstance(raw_targets, list) else 0
        raise InputError(f'{path}: {count} targets.{{b}} entries, expected {batch} (one per image)')
    targets = []
    for b, node in enumerate(raw_targets):
        p = f'targets.{b}'
        if not isinstance(node, dict) or 'labels' not in node or 'boxes' not in node:
            raise InputError(f'{path}: {p}.labels and {p}.boxes are both needed')
        labels = _as_int(path, p + '.labels', node['labels'])
        boxes = _as_float(path, p + '.boxes', node['boxes'], dtype)
        if labels.dim() != 1:
            raise InputError(f'{path}: {p}.labels has shape {list(labels.shape)}, expected a vector')
        if boxes.dim() != 2 or boxes.shape != (labels.shape[0], 4):
            raise InputError(f'{path}: {p}.boxes has shape {list(boxes.shape)}, expected {[labels.shape[0], 4]}')
        bad = torch.nonzero((labels < 0) | (labels >= num_classes))
        if len(bad):
            i = bad[0].item()
            raise InputError(f'{path}: {p}.labels[{i}] = {labels[i].item()} is outside [0, {num_classes})')
        bad = torch.nonzero((boxes[:, 2] < 0) | (boxes[:, 3] < 0))
        if len(bad):
            raise InputError(f'{path}: {p}.boxes[{bad[0, 0].item()}] has a negative width or height')
        target = {'labels': labels, 'boxes': boxes}
        if 'masks' in node:
            m = node['masks']
            if m.dim() != 3 or m.shape[0] != labels.shape[0]:
                raise InputError(f'{path}: {p}.masks has shape {list(m.shape)}, expected {labels.shape[0]}×H×W')
            if m.is_floating_point() and not bool(torch.isfinite(m).all()):
                raise InputError(f'{path}: {p}.masks holds a non-finite value')
            target['masks'] = m
        elif 'pred_masks' in outputs:
            raise InputError(f'{path}: pred_masks is given but {p}.masks is missing')
        unknown = sorted(set(node) - {'labels', 'boxes', 'masks'})
        if unknown:
            raise InputError(f'{path}: unknown tensor {p}.{unknown[0]}')
        targets.append(target)
    if 'pred_masks' not in outputs and any('masks' in t for t in targets):
        raise InputError(f'{path}: targets.*.masks are given but pred_masks is missing')
    if dn_meta is not None and dn_meta['pad_size'] > 0:
        single = dn_meta['pad_size'] // dn_meta['num_dn_group']
        for b, t in enumerate(targets):
            if len(t['labels']) > single:
                raise InputError(f'{path}: targets.{b} has {len(t["labels"])} targets, more than a denoising group '
                                 f'holds (pad_size / num_dn_group = {single})')
    return outputs, targets


# ---------------------------------------------------------------------------------------------
# Box operations (util/box_ops.py)


def box_cxcywh_to_xyxy(x):
    x_c, y_c, w, h = x.unbind(-1)
    return torch.stack([(x_c - 0.5 * w), (y_c - 0.5 * h), (x_c + 0.5 * w), (y_c + 0.5 * h)], dim=-1)


def _box_area(boxes):
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1, boxes2):
    """Pairwise IoU with DINO's 1e-6 in the denominator, and the union."""
    area1, area2 = _box_area(boxes1), _box_area(boxes2)
    lt = torch.max(boxes1[:, None, :2], boxes2[:, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    union = area1[:, None] + area2 - inter
    return inter / (union + 1e-6), union


def generalized_box_iou(boxes1, boxes2):
    """Pairwise GIoU of xyxy boxes (N×M), DINO's variant with both 1e-6."""
    # upstream asserts these (read_batch has already rejected negative widths and heights)
    if not bool((boxes1[:, 2:] >= boxes1[:, :2]).all()) or not bool((boxes2[:, 2:] >= boxes2[:, :2]).all()):
        raise InputError('a box has x1 < x0 or y1 < y0')
    iou, union = box_iou(boxes1, boxes2)
    lt = torch.min(boxes1[:, None, :2], boxes2[:, :2])
    rb = torch.max(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    area = wh[:, :, 0] * wh[:, :, 1]
    return iou - (area - union) / (area + 1e-6)


# ---------------------------------------------------------------------------------------------
# Matcher (models/dino/matcher.py)


class Timer:
    """Accumulates the seconds spent in scipy's linear_sum_assignment."""

    def __init__(self):
        self.seconds = 0.0


def _assign(matrix, timer):
    start = time.perf_counter()
    rows, cols = _scipy_lsa(matrix)
    if timer is not None:
        timer.seconds += time.perf_counter() - start
    return rows, cols


def match(outputs, targets, opts, timer=None):
    """HungarianMatcher (or SimpleMinsumMatcher) forward: one (query indices, target indices) per image."""
    with torch.no_grad():
        return _match(outputs, targets, opts, timer)


def _match(outputs, targets, opts, timer):
    bs, num_queries = outputs['pred_logits'].shape[:2]
    out_prob = outputs['pred_logits'].flatten(0, 1).sigmoid()
    out_bbox = outputs['pred_boxes'].flatten(0, 1)
    tgt_ids = torch.cat([v['labels'] for v in targets])
    tgt_bbox = torch.cat([v['boxes'] for v in targets])

    alpha, gamma = opts.focal_alpha, opts.focal_gamma
    neg_cost_class = (1 - alpha) * (out_prob ** gamma) * (-(1 - out_prob + 1e-8).log())
    pos_cost_class = alpha * ((1 - out_prob) ** gamma) * (-(out_prob + 1e-8).log())
    cost_class = pos_cost_class[:, tgt_ids] - neg_cost_class[:, tgt_ids]
    cost_bbox = torch.cdist(out_bbox, tgt_bbox, p=1)
    cost_giou = -generalized_box_iou(box_cxcywh_to_xyxy(out_bbox), box_cxcywh_to_xyxy(tgt_bbox))
    C = opts.cost_bbox * cost_bbox + opts.cost_class * cost_class + opts.cost_giou * cost_giou
    C = C.view(bs, num_queries, -1).cpu()

    sizes = [len(v['boxes']) for v in targets]
    if opts.matcher == 'minsum':
        indices = []
        for i, (c, size) in enumerate(zip(C.split(sizes, -1), sizes)):
            if size == 0:
                indices.append((torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64)))
            else:
                indices.append((c[i].min(0)[1], torch.arange(size)))
        return [(torch.as_tensor(i, dtype=torch.int64), torch.as_tensor(j, dtype=torch.int64)) for i, j in indices]
    indices = [_assign(c[i], timer) for i, c in enumerate(C.split(sizes, -1))]
    return [(torch.as_tensor(i, dtype=torch.int64), torch.as_tensor(j, dtype=torch.int64)) for i, j in indices]


# ---------------------------------------------------------------------------------------------
# Losses (models/dino/dino.py SetCriterion, models/dino/utils.py, models/dino/segmentation.py)


def sigmoid_focal_loss(inputs, targets, num_boxes, alpha=0.25, gamma=2.0):
    prob = inputs.sigmoid()
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction='none')
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return loss.mean(1).sum() / num_boxes


def dice_loss(inputs, targets, num_boxes):
    inputs = inputs.sigmoid().flatten(1)
    numerator = 2 * (inputs * targets).sum(1)
    denominator = inputs.sum(-1) + targets.sum(-1)
    loss = 1 - (numerator + 1) / (denominator + 1)
    return loss.sum() / num_boxes


def _src_permutation_idx(indices):
    batch_idx = torch.cat([torch.full_like(src, i) for i, (src, _) in enumerate(indices)])
    src_idx = torch.cat([src for (src, _) in indices])
    return batch_idx, src_idx


def _tgt_permutation_idx(indices):
    batch_idx = torch.cat([torch.full_like(tgt, i) for i, (_, tgt) in enumerate(indices)])
    tgt_idx = torch.cat([tgt for (_, tgt) in indices])
    return batch_idx, tgt_idx


def loss_labels(outputs, targets, indices, num_boxes, opts, log=True):
    src_logits = outputs['pred_logits']
    num_classes = src_logits.shape[2]
    idx = _src_permutation_idx(indices)
    target_classes_o = torch.cat([t['labels'][J] for t, (_, J) in zip(targets, indices)])
    target_classes = torch.full(src_logits.shape[:2], num_classes, dtype=torch.int64)
    target_classes[idx] = target_classes_o
    onehot = torch.zeros([src_logits.shape[0], src_logits.shape[1], num_classes + 1], dtype=src_logits.dtype)
    onehot.scatter_(2, target_classes.unsqueeze(-1), 1)
    onehot = onehot[:, :, :-1]
    loss_ce = sigmoid_focal_loss(src_logits, onehot, num_boxes, alpha=opts.focal_alpha,
                                 gamma=opts.focal_gamma) * src_logits.shape[1]
    losses = {'loss_ce': loss_ce}
    if log:
        losses['class_error'] = 100 - _accuracy(src_logits[idx], target_classes_o)
    return losses


def _accuracy(matched, target_classes_o):
    """util/misc.py accuracy (top-1), without autograd as upstream's."""
    with torch.no_grad():
        if target_classes_o.numel() == 0:
            return torch.zeros([])
        _, pred = matched.topk(1, 1, True, True)
        correct = pred.t().eq(target_classes_o.view(1, -1))
        return correct[:1].reshape(-1).float().sum(0).mul_(100.0 / target_classes_o.numel())


def loss_cardinality(outputs, targets, indices, num_boxes, opts):
    with torch.no_grad():
        return _cardinality(outputs, targets)


def _cardinality(outputs, targets):
    pred_logits = outputs['pred_logits']
    tgt_lengths = torch.as_tensor([len(v['labels']) for v in targets])
    card_pred = (pred_logits.argmax(-1) != pred_logits.shape[-1] - 1).sum(1)
    return {'cardinality_error': F.l1_loss(card_pred.float(), tgt_lengths.float())}


def loss_boxes(outputs, targets, indices, num_boxes, opts):
    idx = _src_permutation_idx(indices)
    src_boxes = outputs['pred_boxes'][idx]
    target_boxes = torch.cat([t['boxes'][i] for t, (_, i) in zip(targets, indices)], dim=0)
    loss_bbox = F.l1_loss(src_boxes, target_boxes, reduction='none')
    losses = {'loss_bbox': loss_bbox.sum() / num_boxes}
    loss_giou = 1 - torch.diag(generalized_box_iou(box_cxcywh_to_xyxy(src_boxes), box_cxcywh_to_xyxy(target_boxes)))
    losses['loss_giou'] = loss_giou.sum() / num_boxes
    with torch.no_grad():
        losses['loss_xy'] = loss_bbox[..., :2].sum() / num_boxes
        losses['loss_hw'] = loss_bbox[..., 2:].sum() / num_boxes
    return losses


def loss_masks(outputs, targets, indices, num_boxes, opts):
    src_idx = _src_permutation_idx(indices)
    tgt_idx = _tgt_permutation_idx(indices)
    src_masks = outputs['pred_masks'][src_idx]
    masks = [t['masks'] for t in targets]
    # nested_tensor_from_tensor_list: zero-pad every image's masks to the batch's largest size
    size = [max(m.shape[d] for m in masks) for d in range(3)]
    padded = torch.zeros([len(masks)] + size, dtype=masks[0].dtype)
    for m, p in zip(masks, padded):
        p[: m.shape[0], : m.shape[1], : m.shape[2]].copy_(m)
    target_masks = padded.to(src_masks)[tgt_idx]
    if src_masks.shape[0] == 0:
        zero = src_masks.sum()
        return {'loss_mask': zero / num_boxes, 'loss_dice': zero / num_boxes}
    src_masks = F.interpolate(src_masks[:, None], size=target_masks.shape[-2:], mode='bilinear', align_corners=False)
    src_masks = src_masks[:, 0].flatten(1)
    target_masks = target_masks.flatten(1).view(src_masks.shape)
    return {'loss_mask': sigmoid_focal_loss(src_masks, target_masks, num_boxes, alpha=opts.focal_alpha, gamma=opts.focal_gamma),
            'loss_dice': dice_loss(src_masks, target_masks, num_boxes)}


LOSS_FUNCTIONS = {'labels': loss_labels, 'boxes': loss_boxes, 'cardinality': loss_cardinality, 'masks': loss_masks}
DN_ZERO_KEYS = ['loss_bbox_dn', 'loss_giou_dn', 'loss_ce_dn', 'loss_xy_dn', 'loss_hw_dn', 'cardinality_error_dn']


def _get_loss(name, outputs, targets, indices, num_boxes, opts, **kw):
    return LOSS_FUNCTIONS[name](outputs, targets, indices, num_boxes, opts, **kw)


def set_criterion(outputs, targets, opts, timer=None):
    """SetCriterion.forward in training mode.

    Returns (losses, indices): the loss dict (0-d tensors, in upstream's key order) and every matched
    head's matching as {'final': [(q, t), …], 'aux_0': …, 'interm': …, 'enc_0': …}.
    """
    losses_used = ['labels', 'boxes', 'cardinality'] + (['masks'] if 'pred_masks' in outputs else [])
    dtype = outputs['pred_logits'].dtype
    all_indices = {}
    indices = match(outputs, targets, opts, timer)
    all_indices['final'] = indices

    if opts.num_boxes is None:
        num_boxes = sum(len(t['labels']) for t in targets)
    else:
        num_boxes = opts.num_boxes
    num_boxes = torch.clamp(torch.as_tensor([num_boxes], dtype=torch.float), min=1).item()

    losses = {}
    dn_meta = outputs['dn_meta']
    has_dn = bool(dn_meta) and 'output_known_lbs_bboxes' in dn_meta
    if has_dn:
        known_outputs = dn_meta['output_known_lbs_bboxes']
        scalar = dn_meta['num_dn_group']
        single_pad = dn_meta['pad_size'] // scalar
        dn_pos_idx = []
        dn_neg_idx = []  # upstream builds the negative-half pairs too (and never uses them): the same work here
        for t in targets:
            n = len(t['labels'])
            if n > 0:
                tt = torch.arange(n, dtype=torch.int64).unsqueeze(0).repeat(scalar, 1)
                tgt_idx = tt.flatten()
                output_idx = ((torch.arange(scalar) * single_pad).long().unsqueeze(1) + tt).flatten()
            else:
                output_idx = tgt_idx = torch.zeros(0, dtype=torch.int64)
            dn_pos_idx.append((output_idx, tgt_idx))
            dn_neg_idx.append((output_idx + single_pad // 2, tgt_idx))
        l_dict = {}
        for loss in losses_used:
            if loss == 'masks':
                continue  # the denoising head has no masks (upstream fails here; DESIGN §2 keeps masks final-only)
            kw = {'log': False} if loss == 'labels' else {}
            l_dict.update(_get_loss(loss, known_outputs, targets, dn_pos_idx, num_boxes * scalar, opts, **kw))
        losses.update({k + '_dn': v for k, v in l_dict.items()})
    else:
        losses.update({k: torch.as_tensor(0., dtype=dtype) for k in DN_ZERO_KEYS})

    for loss in losses_used:
        losses.update(_get_loss(loss, outputs, targets, indices, num_boxes, opts))

    for idx, aux_outputs in enumerate(outputs.get('aux_outputs', [])):
        indices = match(aux_outputs, targets, opts, timer)
        all_indices[f'aux_{idx}'] = indices
        for loss in losses_used:
            if loss == 'masks':
                continue
            kw = {'log': False} if loss == 'labels' else {}
            l_dict = _get_loss(loss, aux_outputs, targets, indices, num_boxes, opts, **kw)
            losses.update({k + f'_{idx}': v for k, v in l_dict.items()})
        if has_dn:
            aux_known = known_outputs['aux_outputs'][idx]
            l_dict = {}
            for loss in losses_used:
                if loss == 'masks':
                    continue
                kw = {'log': False} if loss == 'labels' else {}
                l_dict.update(_get_loss(loss, aux_known, targets, dn_pos_idx, num_boxes * scalar, opts, **kw))
            losses.update({k + f'_dn_{idx}': v for k, v in l_dict.items()})
        else:
            losses.update({k + f'_{idx}': torch.as_tensor(0., dtype=dtype) for k in DN_ZERO_KEYS})

    if 'interm_outputs' in outputs:
        interm = outputs['interm_outputs']
        indices = match(interm, targets, opts, timer)
        all_indices['interm'] = indices
        for loss in losses_used:
            if loss == 'masks':
                continue
            kw = {'log': False} if loss == 'labels' else {}
            l_dict = _get_loss(loss, interm, targets, indices, num_boxes, opts, **kw)
            losses.update({k + '_interm': v for k, v in l_dict.items()})

    for i, enc_outputs in enumerate(outputs.get('enc_outputs', [])):
        indices = match(enc_outputs, targets, opts, timer)
        all_indices[f'enc_{i}'] = indices
        for loss in losses_used:
            if loss == 'masks':
                continue
            kw = {'log': False} if loss == 'labels' else {}
            l_dict = _get_loss(loss, enc_outputs, targets, indices, num_boxes, opts, **kw)
            losses.update({k + f'_enc_{i}': v for k, v in l_dict.items()})
    return losses, all_indices


def criterion(outputs, targets, opts=None, timer=None):
    """The whole criterion: matching, loss dict and the weighted total as upstream's training loop sums it.

    Returns (losses, total, indices) with 0-d tensors for losses and total.
    """
    opts = opts or Options()
    losses, indices = set_criterion(outputs, targets, opts, timer)
    weights = weight_dict(opts, len(outputs.get('aux_outputs', [])), 'pred_masks' in outputs)
    total = sum(losses[k] * weights[k] for k in losses.keys() if k in weights)
    return losses, total, indices


def evaluate_file(path, opts=None, dtype=None):
    """Reads a file and runs the criterion: (loss dict of floats, total float, indices as lists)."""
    outputs, targets = read_batch(path, dtype)
    losses, total, indices = criterion(outputs, targets, opts)
    plain = {k: float(v) for k, v in losses.items()}
    lists = {head: [[q.tolist(), t.tolist()] for q, t in pairs] for head, pairs in indices.items()}
    return plain, float(total), lists


# ---------------------------------------------------------------------------------------------
# --check: conformance against upstream's expected values (the rules of conformance/check.py)


def _close(a, b, rtol):
    if a is None or b is None or isinstance(a, bool):
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= rtol * max(1.0, abs(b))


def _same_matching(ours, ref):
    if ref is None:
        return True
    return ours is not None and [sorted(zip(i, j)) for i, j in ours] == [sorted(zip(i, j)) for i, j in ref]


def check_case(case, rtol, dtype):
    """Compares one case with its expected JSON: (True/False/None for skipped, message line)."""
    name = os.path.basename(case)[:-len('.safetensors')]
    exp_path = case[:-len('.safetensors')] + '.expected.json'
    try:
        with open(exp_path) as f:
            exp = json.load(f)
    except Exception as error:
        return False, f'{name}: FAIL (cannot read {exp_path}: {error})'
    if exp.get('status') != 'ok':
        return None, f'{name}: skipped ({exp.get("status")})'
    tol = exp.get('rtol', rtol)
    parser = argparse.ArgumentParser(prog=name, add_help=False)
    add_criterion_flags(parser)
    try:
        opts = options_from_args(parser.parse_args(exp.get('flags', [])))
    except SystemExit:
        return False, f'{name}: FAIL (flags {exp.get("flags")} are not understood)'
    try:
        losses, total, indices = evaluate_file(case, opts, dtype)
    except Exception as error:
        return False, f'{name}: FAIL ({type(error).__name__}: {error})'
    problems = []
    missing = sorted(set(exp['losses']) - set(losses))
    extra = sorted(set(losses) - set(exp['losses']))
    if missing:
        problems.append(f'missing keys {missing[:6]}')
    if extra:
        problems.append(f'unexpected keys {extra[:6]}')
    worst, worst_key = 0.0, None
    for k, ref in exp['losses'].items():
        if k not in losses:
            continue
        v = losses[k]
        dev = abs(v - ref) / max(1.0, abs(ref))
        if dev > worst:
            worst, worst_key = dev, k
        if not (_close(v, ref, tol) or _close(v, exp['losses_float32'][k], tol)):
            problems.append(f'{k}: {v!r} vs {ref!r}')
    if not (_close(total, exp['loss'], tol) or _close(total, exp['loss_float32'], tol)):
        problems.append(f'loss (weighted total): {total!r} vs {exp["loss"]!r}')
    final = indices.get('final')
    if not (_same_matching(final, exp.get('indices')) or _same_matching(final, exp.get('indices_float32'))):
        problems.append('final matching differs')
    if problems:
        return False, f'{name}: FAIL ' + '; '.join(problems[:8]) + (f' (+{len(problems) - 8} more)' if len(problems) > 8 else '')
    return True, f'{name}: ok (worst relative deviation from float64 {worst:.2e} at {worst_key})'


def run_check(directory, rtol, dtype):
    """Runs every DIR/*.safetensors case; returns the process exit status."""
    cases = sorted(glob.glob(os.path.join(directory, '*.safetensors')))
    if not cases:
        print(f'{directory}: no *.safetensors cases', file=sys.stderr)
        return 1
    passed = failed = skipped = 0
    for case in cases:
        ok, line = check_case(case, rtol, dtype)
        print(line, flush=True)
        if ok is None:
            skipped += 1
        elif ok:
            passed += 1
        else:
            failed += 1
    print(f'torch peer conformance: {passed} passed, {failed} failed' + (f', {skipped} skipped' if skipped else ''))
    return 0 if failed == 0 and passed > 0 else 1


# ---------------------------------------------------------------------------------------------
# --time: median seconds of the whole criterion, file loading excluded


def time_criterion(path, repeat=10, threads=1, opts=None, warmup=1, grad=False):
    """Median seconds of criterion() on one file (matching included), and of its scipy share.

    With grad=True the prediction tensors require gradients, as in training (the autograd graph is
    recorded, no backward pass is run). Returns a dict of the figures.
    """
    torch.set_num_threads(threads)
    outputs, targets = read_batch(path)
    if grad:
        def mark(node):
            if isinstance(node, dict):
                for k, v in node.items():
                    if isinstance(v, torch.Tensor) and v.is_floating_point() and k.startswith('pred_'):
                        v.requires_grad_(True)
                    else:
                        mark(v)
            elif isinstance(node, list):
                for v in node:
                    mark(v)
        mark(outputs)
    totals, scipy_share = [], []
    for k in range(warmup + repeat):
        timer = Timer()
        start = time.perf_counter()
        _, total, _ = criterion(outputs, targets, opts, timer)
        float(total.detach())
        seconds = time.perf_counter() - start
        if k >= warmup:
            totals.append(seconds)
            scipy_share.append(timer.seconds)
    return {'file': path, 'threads': threads, 'repeat': repeat, 'grad': grad,
            'median_seconds': statistics.median(totals), 'min_seconds': min(totals),
            'scipy_median_seconds': statistics.median(scipy_share),
            'torch_version': torch.__version__}


# ---------------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split('\n\n', 1)[1])
    ap.add_argument('file', nargs='?', help='an input file (.safetensors or .npz) to evaluate')
    ap.add_argument('--check', metavar='DIR', help='compare with every DIR/NAME.safetensors + NAME.expected.json')
    ap.add_argument('--rtol', type=float, default=1e-5)
    ap.add_argument('--time', metavar='FILE', help='time the criterion on FILE')
    ap.add_argument('--repeat', type=int, default=10)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--grad', action='store_true', help='with --time: predictions require gradients, as in training')
    ap.add_argument('--dtype', choices=['float32', 'float64'], default='float32')
    ap.add_argument('--json', action='store_true', help='print one JSON object')
    ap.add_argument('--indices', action='store_true', help='with --json: add every head\'s matching')
    add_criterion_flags(ap)
    args = ap.parse_args(argv)
    if sum(x is not None for x in (args.file, args.check, args.time)) != 1:
        ap.error('give exactly one of FILE, --check DIR, --time FILE')
    if args.repeat < 1 or args.threads < 1 or args.warmup < 0:
        ap.error('--repeat and --threads must be at least 1, --warmup at least 0')
    if torch is None:
        print(f'torch is not importable ({TORCH_ERROR}); pip install torch --index-url https://download.pytorch.org/whl/cpu (see README.md, Benchmarks)', file=sys.stderr)
        return 3
    if _scipy_lsa is None:
        print(f'scipy is not importable ({SCIPY_ERROR}): pip install scipy', file=sys.stderr)
        return 3
    dtype = torch.float64 if args.dtype == 'float64' else torch.float32
    try:
        if args.check:
            return run_check(args.check, args.rtol, dtype)
        opts = options_from_args(args)
        if args.time:
            r = time_criterion(args.time, args.repeat, args.threads, opts, args.warmup, args.grad)
            if args.json:
                print(json.dumps(r))
            else:
                print(f'{r["file"]}: torch {r["torch_version"]}, {r["threads"]} thread(s), {r["repeat"]} runs: '
                      f'median {r["median_seconds"] * 1e3:.2f} ms (min {r["min_seconds"] * 1e3:.2f} ms), '
                      f'of which scipy linear_sum_assignment {r["scipy_median_seconds"] * 1e3:.2f} ms')
            return 0
        losses, total, indices = evaluate_file(args.file, opts, dtype)
        if args.json:
            out = {'input': args.file, 'losses': losses, 'loss': total}
            if args.indices:
                out['indices'] = indices
            print(json.dumps(out))
        else:
            width = max(len(k) for k in losses)
            for k, v in losses.items():
                print(f'{k:<{width}}  {v:.9g}')
            print(f'{"loss":<{width}}  {total:.9g}')
        return 0
    except InputError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
