"""``maskproof audit``: check anyone's MAE / I-JEPA code against the Lean semantics via an adapter.

The adapter protocol
--------------------
``maskproof audit module:object`` imports ``module`` (the current directory is on ``sys.path``)
and takes ``object`` (a class is instantiated with no arguments). The object exposes whichever of
these capabilities the implementation has (``bridge.audit.protocols`` defines each as a
``typing.Protocol``); contracts whose capabilities are missing are reported "not applicable":

==========================  ===============================================================
capability                  what the adapter provides
==========================  ===============================================================
RandomMaskingCapability     ``random_masking(x [B,N,D], mask_ratio, generator)`` ->
                            ``(x_kept [B,K,D], mask [B,N], ids_restore [B,N])``
PatchifyCapability          ``patchify(images, p)`` and ``unpatchify(patches, p, (C,H,W))``
MAELossCapability           ``patch_size``, ``in_chans``, ``norm_pix_loss`` and
                            ``loss(images [B,C,H,W], pred [B,N,P], mask [B,N])``
EncoderCapability           ``patch_size``, ``encoder_image_shape`` and
                            ``encode(images, mask)`` (the encoder on the visible patches)
MAEModelCapability          ``module``, ``patch_size``, ``in_chans``, ``model_image_shape``,
                            ``norm_pix_loss`` and ``mae_forward(images, noise, mask_ratio)``
                            -> ``MAEForward`` (the model's own forward pass)
VectorMaskCapability        ``vector_mae_mask(x, period, offset)`` (TorchLean)
ImagePatchMaskCapability    ``image_patch_mask(x, patch_h, patch_w, period, offset)``
BlockMaskCapability         ``block_mask_apply(x, blocks, period, offset)``
JEPACollatorCapability      ``jepa_grid``, ``allow_overlap`` and
                            ``sample_jepa_masks(batch_size, generator)`` -> context and target
                            index lists per sample
JEPATrainingCapability      ``jepa_trainer(seed)`` -> an object with ``context_encoder``,
                            ``target_encoder``, ``predictor``, ``optimizer``, the documented EMA
                            schedule (``ema_start``, ``ema_end``, ``ema_horizon``),
                            ``forward(images, context, targets)`` and
                            ``train_step(images, context, targets, step)``
FixedTensorsCapability      ``fixed_tensors(seed)`` -> tensors with documented values
                            (sin-cos tables, constant tokens)
RankedTrainingCapability    ``rank_loop_kinds`` and ``rank_loop(kind, world_size, rank,
                            seed)`` -> the user's training loop as one rank runs it
                            (simulated in one process): ``step()`` -> the step's sample ids,
                            masks and crops; ``module``, ``optimizer``, ``total_steps``,
                            ``final_lr``, the EMA modules and the no-decay name parts
==========================  ===============================================================

Masks are ``[B, N]`` with 1 = masked (removed from the encoder, scored by the loss); adapters of
implementations with the opposite convention convert.

Declared conventions (optional attributes; each is checked exactly as declared, never loosened):

* ``keep_count_convention`` on the adapter, for ``masking.keep_count``: ``"keep_floor"``
  (default) keeps ``floor(N(1 - r))`` tokens a sample and masks the rest (the MAE code's
  ``len_keep = int(L * (1 - mask_ratio))``, read exactly); ``"mask_floor"`` masks
  ``floor(N r)`` and keeps the rest (``num_masked = int(ratio * N)``, lucidrains/vit-pytorch).
  ``r`` is read exactly as the decimal its float stands for (``0.8`` is 4/5), so a count that
  binary floating point makes one short fails under either convention.
* ``ema_horizon`` on the JEPA trainer: ``jepa.ema_law`` checks steps ``0 .. ema_horizon`` only;
  past the documented horizon a schedule may clamp or stop.
* parameters with ``requires_grad=False`` (a fixed sin-cos table registered as a frozen
  ``nn.Parameter``) are outside ``jepa.optimizer_coverage``: only trainable parameters must be
  optimized and move in a step.

Loss bounds take their precision from the loss's inputs and the operations; a loss returned in
a lower-precision dtype (bf16) adds one final rounding. A draw whose derived bound is vacuous is
*not checkable* and is skipped, never reported as a failure.

``examples/third_party_adapter.py`` wraps a third-party-style MAE in under 40 lines;
``bridge.audit.reference`` is the adapter of maskproof's own runtime, which passes every contract.

Modules: ``protocols`` (capabilities), ``contract`` (what a contract is), ``contracts_*`` (the
catalogue, by area), ``catalogue`` (all of them), ``runner`` (loading and Hypothesis), ``report``
(``audit.md`` / ``audit.json``), ``command`` (the CLI), ``reference`` (maskproof's adapter).
"""
