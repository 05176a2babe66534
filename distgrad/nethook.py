"""Utilities for instrumenting a distgrad model: David Bau's ``nethook`` (baukit / dissect).

* ``Trace`` hooks one layer, ``TraceDict`` several; they retain the layer's output (and
  optionally its input and the output's gradient), can edit the output, and can stop the forward
  pass after the layer (``stop=True``).
* ``InstrumentedModel`` wraps a model to retain and edit layers by replacing their ``forward``
  (dissect's design), with ablation/replacement edits.
* ``subsequence`` slices a ``Sequential``; ``get_module``, ``get_parameter``, ``replace_module``
  resolve dotted names; ``set_requires_grad`` sets ``requires_grad`` of whole models.

Names, arguments and semantics follow ``davidbau/baukit`` ``baukit/nethook.py`` (``Trace``,
``TraceDict``, ...) and ``davidbau/dissect`` ``netdissect/nethook.py`` (``InstrumentedModel``).
Deliberate differences (fixes of upstream bugs):

* ``replace_module(model, 'name', m)`` works for a top-level child (name without a dot).
* ``Trace``/``TraceDict`` with ``stop=True`` can be exited without an exception.
* ``Trace(retain_input=True)`` also sees keyword inputs (``tr.input_kwargs``; if the layer is
  called with keywords only, ``tr.input`` is the single keyword value or the dict of them).
* ``recursive_copy`` passes its flags down into nested containers and passes ``None`` through.
* ``InstrumentedModel.close()`` works after ``retain_layer((name, alias))``.
* ``invoke_with_optional_args`` passes leftover keyword arguments to a ``**kwargs`` parameter.

There is no ``Callbacks`` class: nethook has never had one.
"""
from __future__ import annotations

import contextlib
import copy
import inspect
import types
from collections import OrderedDict, defaultdict

import numpy

from . import ops
from .nn.modules.container import Sequential
from .nn.modules.module import Module
from .nn.parameter import Parameter
from .tensor import Tensor

__all__ = [
    "Trace", "TraceDict", "StopForward", "recursive_copy", "subsequence",
    "hierarchical_subsequence", "set_requires_grad", "get_module", "get_parameter",
    "replace_module", "module_names", "parameter_names", "invoke_with_optional_args",
    "InstrumentedModel", "apply_ablation_replacement", "make_matching_tensor",
]


class _StopForwardContext(contextlib.AbstractContextManager):
    """The ``with`` behaviour of ``Trace`` and ``TraceDict``: ``close()`` on exit, and swallow
    the ``StopForward`` that ``stop=True`` raises."""

    def __enter__(self):
        return self

    def __exit__(self, type, value, traceback):
        self.close()
        if self.stop and type is not None and issubclass(type, StopForward):
            return True
        return None


class Trace(_StopForwardContext):
    """Retain (and optionally edit) the output of one layer while the network runs::

        with Trace(net, 'layer.name') as ret:
            _ = net(inp)
            representation = ret.output

    ``layer`` is a dotted name found by ``get_module``; with ``layer=None`` the module passed
    in is hooked itself. Options:

    * ``clone=True``: retain a copy (useful if later layers modify the output in place).
    * ``detach=True``: retain a detached reference (or copy).
    * ``retain_grad=True``: ``ret.output.grad`` is filled by ``backward()``. The network then
      continues with a clone of the output, so that in-place operations may follow.
    * ``retain_input=True``: also retain the input as ``ret.input`` (the single positional
      argument, or the tuple of them) and the keyword arguments as ``ret.input_kwargs``.
    * ``retain_output=False``: do not retain the output.
    * ``edit_output=fn``: replace the output by ``fn(output, layer, inputs)`` (``fn`` may take
      any prefix of these, by position or by these names; see ``invoke_with_optional_args``).
    * ``stop=True``: raise ``StopForward`` after the layer, so nothing after it runs; the
      ``with`` block swallows it.

    Order inside the hook (baukit's): edit first, then retain, so ``ret.output`` is the
    **edited** output (rome's older copy and ``InstrumentedModel`` retain the pre-edit value).
    It is one forward hook, registered with ``with_kwargs=True``; global and earlier hooks of the
    layer run before it.
    """

    def __init__(self, module, layer=None, retain_output=True, retain_input=False, clone=False,
                 detach=False, retain_grad=False, edit_output=None, stop=False):
        retainer = self
        self.layer = layer
        if layer is not None:
            module = get_module(module, layer)

        def retain_hook(m, inputs, kwargs, output):
            if edit_output:
                output = invoke_with_optional_args(edit_output, output=output, layer=self.layer,
                                                   inputs=inputs)
            if retain_input:
                if inputs or not kwargs:
                    value = inputs[0] if len(inputs) == 1 else inputs
                elif len(kwargs) == 1:
                    value = next(iter(kwargs.values()))
                else:
                    value = dict(kwargs)
                retainer.input = recursive_copy(value, clone=clone, detach=detach,
                                                retain_grad=False)  # retain_grad: output only
                retainer.input_kwargs = recursive_copy(dict(kwargs), clone=clone, detach=detach,
                                                       retain_grad=False)
            if retain_output:
                retainer.output = recursive_copy(output, clone=clone, detach=detach,
                                                 retain_grad=retain_grad)
                # With retain_grad, continue with a trivial copy, so that in-place operations
                # may follow without error.
                if retain_grad:
                    output = recursive_copy(retainer.output, clone=True, detach=False)
            if stop:
                raise StopForward()
            return output

        self.registered_hook = module.register_forward_hook(retain_hook, with_kwargs=True)
        self.stop = stop

    def close(self):
        """Remove the hook (idempotent)."""
        self.registered_hook.remove()


class TraceDict(OrderedDict, _StopForwardContext):
    """Trace several layers at once; ``ret[name]`` is the ``Trace`` of layer ``name``::

        with TraceDict(net, ['layer1.name1', 'layer2.name2']) as ret:
            _ = net(inp)
            representation = ret['layer1.name1'].output

    Duplicate names are traced once. Every option may be given per layer as a dict keyed by
    layer name (layers missing from the dict get ``None``, i.e. off). ``edit_output`` is
    called as ``fn(output, layer, inputs)`` (any prefix). With ``stop=True`` execution stops
    after the **last layer listed** (not the last one executed).
    """

    def __init__(self, module, layers=None, retain_output=True, retain_input=False, clone=False,
                 detach=False, retain_grad=False, edit_output=None, stop=False):
        super().__init__()
        self.stop = stop

        def flag_last_unseen(it):
            try:
                it = iter(it)
                prev = next(it)
                seen = {prev}
            except StopIteration:
                return
            for item in it:
                if item not in seen:
                    yield False, prev
                    seen.add(item)
                    prev = item
            yield True, prev

        for is_last, layer in flag_last_unseen(layers if layers is not None else []):

            def optional_dict(obj, layer=layer):
                if isinstance(obj, dict):
                    return obj.get(layer, None)
                return obj

            self[layer] = Trace(module=module, layer=layer,
                                retain_output=optional_dict(retain_output),
                                retain_input=optional_dict(retain_input),
                                clone=optional_dict(clone), detach=optional_dict(detach),
                                retain_grad=optional_dict(retain_grad),
                                edit_output=optional_dict(edit_output),
                                stop=stop and is_last)

    def close(self):
        """Remove all hooks (in reverse order)."""
        for _, trace in reversed(self.items()):
            trace.close()

    # OrderedDict defines __eq__ and so sets __hash__ = None; keep identity semantics.
    __hash__ = object.__hash__


class StopForward(Exception):
    """Raised by ``Trace(..., stop=True)`` after the traced layer has run, to skip the rest of
    the network; the ``Trace``/``TraceDict`` context manager swallows it::

        with Trace(net, layername, stop=True) as tr:
            net(inp)  # runs the network only up to layername
        print(tr.output)
    """


def recursive_copy(x, clone=None, detach=None, retain_grad=None):
    """Copy a reference to a tensor, or to a dict/list/tuple of tensors, optionally detaching
    and/or cloning the tensors. With ``retain_grad`` the original tensors get
    ``requires_grad=True`` (if they are leaves without it) and ``retain_grad()``.

    The flags apply at every nesting level; ``None`` (and numbers, strings) pass through.
    """
    if not clone and not detach and not retain_grad:
        return x
    if isinstance(x, Tensor):
        if retain_grad:
            if not x.requires_grad:
                x.requires_grad = True
            x.retain_grad()
        elif detach:
            x = x.detach()
        if clone:
            x = x.clone()
        return x
    if x is None or isinstance(x, (bool, int, float, complex, str)):
        return x
    # Only dicts, lists and tuples (and their subclasses) can be copied.
    if isinstance(x, dict):
        return type(x)({k: recursive_copy(v, clone=clone, detach=detach, retain_grad=retain_grad)
                        for k, v in x.items()})
    if isinstance(x, (list, tuple)):
        values = [recursive_copy(v, clone=clone, detach=detach, retain_grad=retain_grad)
                  for v in x]
        if hasattr(type(x), "_fields"):  # a namedtuple
            return type(x)(*values)
        return type(x)(values)
    raise AssertionError(f"Unknown type {type(x)} cannot be broken into tensors.")


def subsequence(sequential, first_layer=None, last_layer=None, after_layer=None, upto_layer=None,
                single_layer=None, share_weights=False):
    """A new ``Sequential`` of the children of ``sequential`` from ``first_layer`` to
    ``last_layer`` (inclusive), or strictly between ``after_layer`` and ``upto_layer``.

    Dotted names descend into nested ``Sequential`` models. The layers are deep copies unless
    ``share_weights=True``. The result keeps ``training`` of the original.
    """
    if not ((single_layer is None)
            or (first_layer is last_layer is after_layer is upto_layer is None)):
        raise AssertionError("single_layer cannot be combined with other layer arguments")
    if single_layer is not None:
        first_layer = single_layer
        last_layer = single_layer
    first, last, after, upto = [None if d is None else d.split(".")
                                for d in [first_layer, last_layer, after_layer, upto_layer]]
    return hierarchical_subsequence(sequential, first=first, last=last, after=after, upto=upto,
                                    share_weights=share_weights)


def hierarchical_subsequence(sequential, first, last, after, upto, share_weights=False, depth=0):
    """Recursive helper of ``subsequence``: ``first``/``last``/``after``/``upto`` are lists of
    name parts (split on dots)."""
    assert (last is None) or (upto is None)
    assert (first is None) or (after is None)
    if first is last is after is upto is None:
        return sequential if share_weights else copy.deepcopy(sequential)
    if not isinstance(sequential, Sequential):
        raise AssertionError(".".join((first or last or after or upto)[:depth] or "arg")
                             + " not Sequential")
    including_children = (first is None) and (after is None)
    included_children = OrderedDict()
    # F = the name at this level; FN = the full name for descending (None at the innermost).
    (F, FN), (L, LN), (A, AN), (U, UN) = [
        (d[depth], (None if len(d) == depth + 1 else d)) if d is not None else (None, None)
        for d in [first, last, after, upto]]
    for name, layer in sequential._modules.items():
        if name == F:
            first = None
            including_children = True
        if name == A and AN is not None:  # just like F if not a leaf
            after = None
            including_children = True
        if name == U and UN is None:
            upto = None
            including_children = False
        if including_children:
            FR, LR, AR, UR = [n if n is None or n[depth] == name else None
                              for n in [FN, LN, AN, UN]]
            chosen = hierarchical_subsequence(layer, first=FR, last=LR, after=AR, upto=UR,
                                              share_weights=share_weights, depth=depth + 1)
            if chosen is not None:
                included_children[name] = chosen
        if name == L:
            last = None
            including_children = False
        if name == U and UN is not None:  # just like L if not a leaf
            upto = None
            including_children = False
        if name == A and AN is None:
            after = None
            including_children = True
    for name in [first, last, after, upto]:
        if name is not None:
            raise ValueError("Layer %s not found" % ".".join(name))
    # Omit empty subsequences except at the outermost level, which never returns None.
    if not len(included_children) and depth > 0:
        return None
    result = Sequential(included_children)
    result.training = sequential.training
    return result


def set_requires_grad(requires_grad, *models):
    """Set ``requires_grad`` of every parameter of the given modules (or of given tensors)."""
    for model in models:
        if isinstance(model, Module):
            for param in model.parameters():
                param.requires_grad = requires_grad
        elif isinstance(model, (Parameter, Tensor)):
            model.requires_grad = requires_grad
        else:
            raise AssertionError("unknown type %r" % type(model))


def get_module(model, name):
    """The module called ``name`` in ``model.named_modules()`` (``''`` is the model itself);
    ``LookupError(name)`` if there is none."""
    for n, m in model.named_modules():
        if n == name:
            return m
    raise LookupError(name)


def get_parameter(model, name):
    """The parameter called ``name`` in ``model.named_parameters()``; ``LookupError(name)``
    if there is none."""
    for n, p in model.named_parameters():
        if n == name:
            return p
    raise LookupError(name)


def module_names(model):
    """All module names of ``model`` (``''`` first)."""
    return [n for n, _ in model.named_modules()]


def parameter_names(model):
    """All parameter names of ``model``."""
    return [n for n, _ in model.named_parameters()]


def replace_module(model, name, new_module):
    """Replace the submodule called ``name`` (dotted, or a top-level child name) by
    ``new_module``."""
    if "." in name:
        parent_name, attr_name = name.rsplit(".", 1)
        model = get_module(model, parent_name)
    else:
        attr_name = name
    setattr(model, attr_name, new_module)


def invoke_with_optional_args(fn, *args, **kwargs):
    """Call ``fn`` with only the arguments it is written to accept:

    1. arguments whose names match ``fn``'s parameters are passed by name;
    2. the remaining positional parameters are filled from ``args``, then from the unmatched
       keyword arguments in order;
    3. extra arguments that ``fn`` cannot accept are dropped (a ``**kwargs`` parameter accepts
       all leftover keyword arguments, a ``*args`` parameter the leftover positional ones);
    4. a required parameter that cannot be filled raises ``TypeError``.

    So an editing function may be ``f(output)``, ``f(output, layer)``, ``f(x, name)`` ...
    """
    argspec = inspect.getfullargspec(fn)
    pass_args = []
    used_kw = set()
    unmatched_pos = []
    used_pos = 0
    defaulted_pos = len(argspec.args) - (0 if not argspec.defaults else len(argspec.defaults))
    # Bound methods: getfullargspec includes 'self', which is already bound.
    params = argspec.args[1:] if inspect.ismethod(fn) else argspec.args
    offset = len(argspec.args) - len(params)
    for i, n in enumerate(params, offset):
        if n in kwargs:
            pass_args.append(kwargs[n])
            used_kw.add(n)
        elif used_pos < len(args):
            pass_args.append(args[used_pos])
            used_pos += 1
        else:
            unmatched_pos.append(len(pass_args))
            pass_args.append(None if i < defaulted_pos else argspec.defaults[i - defaulted_pos])
    # Fill unmatched positional parameters with unmatched keyword arguments, in order.
    if len(unmatched_pos):
        for k, v in kwargs.items():
            if k in used_kw or k in argspec.kwonlyargs:
                continue
            pass_args[unmatched_pos[0]] = v
            used_kw.add(k)
            unmatched_pos = unmatched_pos[1:]
            if len(unmatched_pos) == 0:
                break
        else:
            missing = [params[u] for u in unmatched_pos if u + offset < defaulted_pos]
            if missing:
                raise TypeError(f"{getattr(fn, '__name__', fn)}() cannot be passed "
                                f"{', '.join(missing)}.")
    # Pass the remaining keyword arguments if they can be accepted.
    pass_kw = {k: v for k, v in kwargs.items()
               if k not in used_kw and (k in argspec.kwonlyargs or argspec.varkw is not None)}
    # Pass the remaining positional arguments if they can be accepted.
    if argspec.varargs is not None:
        pass_args += list(args[used_pos:])
    return fn(*pass_args, **pass_kw)


class InstrumentedModel(Module):
    """A wrapper for hooking, probing and intervening in distgrad modules (dissect's)::

        with InstrumentedModel(model) as inst:
            inst.retain_layer(layername)
            inst.edit_layer(layername, ablation=0.5, replacement=target_features)
            inst(inputs)
            original_features = inst.retained_layer(layername)

    A hooked layer's ``forward`` is replaced by one that calls the original and then
    post-processes the output: first it is **retained (the pre-edit value**, as in dissect;
    this is the opposite of ``Trace``, which retains the edited output), then the layer's edit
    rule, if any, replaces it. Forward hooks of the layer still run and see the edited output.
    A layer name may be a pair ``(name, alias)``; the alias is then the key.

    If the model is a ``Sequential``, ``inst(x, layer=...)`` runs one top-level child and
    ``inst(x, first_layer=..., last_layer=...)`` an inclusive range of them.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model
        self._retained = OrderedDict()
        self._detach_retained = {}
        self._editargs = defaultdict(dict)
        self._editrule = {}
        self._hooked_layer = {}
        self._old_forward = {}
        if isinstance(model, Sequential):
            self._hook_sequential()

    def __enter__(self):
        return self

    def __exit__(self, type, value, traceback):
        self.close()

    def forward(self, *inputs, **kwargs):
        return self.model(*inputs, **kwargs)

    def layer_names(self):
        """The names of all modules of the wrapped model."""
        return [name for name, _ in self.model.named_modules()]

    def retain_layer(self, layername, detach=True):
        """Hook ``layername`` (or ``(layername, alias)``) and retain its output (detached by
        default) each time the model runs."""
        self.retain_layers([layername], detach=detach)

    def retain_layers(self, layernames, detach=True):
        """Retain several layers at once."""
        self.add_hooks(layernames)
        for layername in layernames:
            aka = layername
            if not isinstance(aka, str):
                layername, aka = layername
            if aka not in self._retained:
                self._retained[aka] = None
                self._detach_retained[aka] = detach

    def stop_retaining_layers(self, layernames):
        """Stop retaining the given layers (they stay hooked)."""
        self.add_hooks(layernames)
        for layername in layernames:
            aka = layername
            if not isinstance(aka, str):
                layername, aka = layername
            if aka in self._retained:
                del self._retained[aka]
                del self._detach_retained[aka]

    def retained_features(self, clear=False):
        """An ``OrderedDict`` of all retained values (optionally resetting them to None)."""
        result = OrderedDict(self._retained)
        if clear:
            for k in result:
                self._retained[k] = None
        return result

    def retained_layer(self, aka=None, clear=False):
        """The retained value of layer (alias) ``aka``, by default of the first retained layer."""
        if aka is None:
            aka = next(iter(self._retained.keys()))
        result = self._retained[aka]
        if clear:
            self._retained[aka] = None
        return result

    def edit_layer(self, layername, rule=None, **kwargs):
        """Edit the output of ``layername`` each time the model runs:
        ``output = rule(output, self, name=alias, **kwargs)`` (as far as ``rule`` accepts these).

        The default rule is ``apply_ablation_replacement``: with ``ablation=a`` and
        ``replacement=r``, ``output = x * (1 - a) + r * a``.
        """
        if not isinstance(layername, str):
            layername, aka = layername
        else:
            aka = layername
        if rule is None:
            rule = apply_ablation_replacement
        self.add_hooks([(layername, aka)])
        self._editargs[aka].update(kwargs)
        self._editrule[aka] = rule

    def remove_edits(self, layername=None):
        """Remove the edits of one layer, or of all layers."""
        if layername is None:
            self._editargs.clear()
            self._editrule.clear()
            return
        if not isinstance(layername, str):
            layername, aka = layername
        else:
            aka = layername
        self._editargs.pop(aka, None)
        self._editrule.pop(aka, None)

    def add_hooks(self, layernames):
        """Hook the given layers (once each); usually called through ``retain_layer`` or
        ``edit_layer``. An unknown name raises ``ValueError``."""
        needed = set()
        aka_map = {}
        for name in layernames:
            aka = name
            if not isinstance(aka, str):
                name, aka = name
            if self._hooked_layer.get(aka, None) != name:
                aka_map[name] = aka
                needed.add(name)
        if not needed:
            return
        for name, layer in self.model.named_modules():
            if name in aka_map:
                needed.remove(name)
                self._hook_layer(layer, name, aka_map[name])
        for name in needed:
            raise ValueError("Layer %s not found in model" % name)

    def _hook_layer(self, layer, layername, aka):
        if aka in self._hooked_layer:
            raise ValueError("Layer %s already hooked" % aka)
        if layername in self._old_forward:
            raise ValueError("Layer %s already hooked" % layername)
        self._hooked_layer[aka] = layername
        self._old_forward[layername] = (layer, aka, layer.__dict__.get("forward", None))
        editor = self
        original_forward = layer.forward

        def new_forward(self, *inputs, **kwargs):
            original_x = original_forward(*inputs, **kwargs)
            return editor._postprocess_forward(original_x, aka)

        layer.forward = types.MethodType(new_forward, layer)

    def _unhook_layer(self, aka):
        if aka not in self._hooked_layer:
            return
        layername = self._hooked_layer[aka]
        if aka in self._retained:
            del self._retained[aka]
            del self._detach_retained[aka]
        self.remove_edits(aka)
        layer, check, old_forward = self._old_forward[layername]
        assert check == aka
        if old_forward is None:
            if "forward" in layer.__dict__:
                del layer.__dict__["forward"]
        else:
            layer.forward = old_forward
        del self._old_forward[layername]
        del self._hooked_layer[aka]

    def _postprocess_forward(self, x, aka):
        # Retain the output before the edits, if wanted.
        if aka in self._retained:
            if self._detach_retained[aka]:
                self._retained[aka] = x.detach()
            else:
                self._retained[aka] = x
        rule = self._editrule.get(aka, None)
        if rule is not None:
            x = invoke_with_optional_args(rule, x, self, name=aka, **(self._editargs[aka]))
        return x

    def _hook_sequential(self):
        """Replace the Sequential's ``forward`` by one accepting ``layer=`` (run one child) or
        ``first_layer=``/``last_layer=`` (run an inclusive range of children)."""
        model = self.model
        self._hooked_layer["."] = "."
        self._old_forward["."] = (model, ".", model.__dict__.get("forward", None))

        def new_forward(this, x, layer=None, first_layer=None, last_layer=None):
            assert layer is None or (first_layer is None and last_layer is None)
            first_layer, last_layer = [str(layer) if layer is not None
                                       else str(d) if d is not None else None
                                       for d in [first_layer, last_layer]]
            including_children = first_layer is None
            for name, child in this._modules.items():
                if name == first_layer:
                    first_layer = None
                    including_children = True
                if including_children:
                    x = child(x)
                if name == last_layer:
                    last_layer = None
                    including_children = False
            assert first_layer is None, "%s not found" % first_layer
            assert last_layer is None, "%s not found" % last_layer
            return x

        model.forward = types.MethodType(new_forward, model)

    def close(self):
        """Unhook all hooked layers (also those hooked under an alias)."""
        for aka in list(self._hooked_layer.keys()):
            self._unhook_layer(aka)
        assert len(self._old_forward) == 0


def apply_ablation_replacement(x, imodel, **buffers):
    """The default edit rule: ``x * (1 - ablation) + replacement * ablation``; no edit without
    ``ablation``. Values are converted and broadcast over channels by ``make_matching_tensor``."""
    if buffers is not None:
        a = make_matching_tensor(buffers, "ablation", x)
        if a is not None:
            x = x * (1 - a)
            v = make_matching_tensor(buffers, "replacement", x)
            if v is not None:
                x = x + v * a
    return x


def make_matching_tensor(valuedict, name, data):
    """Convert ``valuedict[name]`` to a tensor with the dtype, device and dimension count of
    ``data`` (a 1-D value becomes ``(1, C, 1, 1, ...)``), caching the result in ``valuedict``."""
    v = valuedict.get(name, None)
    if v is None:
        return None
    if not isinstance(v, Tensor):
        v = ops.from_numpy(numpy.array(v))
        valuedict[name] = v
    if not v.device == data.device or not v.dtype == data.dtype:
        assert not v.requires_grad, "%s wrong device or type" % name
        v = v.to(device=data.device, dtype=data.dtype)
        valuedict[name] = v
    if len(v.shape) < len(data.shape):
        assert not v.requires_grad, "%s wrong dimensions" % name
        v = v.view((1,) + tuple(v.shape) + (1,) * (len(data.shape) - len(v.shape) - 1))
        valuedict[name] = v
    return v
