"""The bug zoo's cards: one faithful-but-wrong implementation per bug family, with its metadata.

Every card's adapter is :class:`bridge.audit.reference.ReferenceAdapter` with exactly one thing
broken. ``caught_by`` is the contract that must fail on it; ``also_caught_by`` lists the other
contracts the same defect violates (each may need more examples to show it). The zoo fails a card
that its named contract misses or that fails a contract it does not list.
``report`` is the public thread that motivated the card; ``does_not_prove`` says what catching
it does not establish.
"""

from __future__ import annotations

from dataclasses import dataclass

from maskproof.bridge.audit.reference import ReferenceAdapter
from maskproof.bridge.zoo import broken_jepa as J
from maskproof.bridge.zoo import broken_lean as L
from maskproof.bridge.zoo import broken_mae as M
from maskproof.bridge.zoo import broken_model as D
from maskproof.bridge.zoo import broken_train as T


@dataclass(frozen=True)
class Card:
    name: str
    adapter: type[ReferenceAdapter]
    family: str
    report: str
    caught_by: str
    does_not_prove: str
    also_caught_by: tuple[str, ...] = ()

    @property
    def expected(self) -> frozenset[str]:
        return frozenset((self.caught_by, *self.also_caught_by))

    @property
    def summary(self) -> str:
        doc = self.adapter.__doc__ or ""
        return " ".join(doc.split())


CARDS: tuple[Card, ...] = (
    Card("ratio_ignored", M.RatioIgnored, "mask ratio ignored or miscounted",
         "insightface #2219", "masking.keep_count",
         "that the masked set is uniformly random, only its size", ("masking.ratio_zero",)),
    Card("float_keep_count", M.FloatKeepCount, "mask ratio ignored or miscounted",
         "pattern of facebookresearch/mae models_mae.py: len_keep = int(L * (1 - r)) in "
         "floats (no single report)", "masking.keep_count",
         "anything about ratios whose float product happens to round up"),
    Card("mask_with_replacement", M.MaskWithReplacement, "mask ratio ignored or miscounted",
         "fairseq PR #752", "masking.keep_count",
         "that the kept tokens are the right ones",
         ("masking.ids_restore_inverse",)),
    Card("restore_is_shuffle", M.RestoreIsShuffle, "ordering / unshuffle",
         "lucidrains/vit-pytorch #241", "masking.ids_restore_inverse",
         "that the decoder uses ids_restore at all (needs the decoder's internals)",
         ("masking.kept_tokens_gathered",)),
    Card("gather_sample_zero", M.GatherSampleZero, "ordering / unshuffle",
         "facebookresearch/jepa #93", "masking.kept_tokens_gathered",
         "the same defect inside a model's forward when the adapter's masking is separate"),
    Card("square_unpatchify", M.SquareUnpatchify, "target definition (norm-pix / patchify)",
         "transformers #29416 family; pattern of facebookresearch/mae unpatchify "
         "(h = w = int(N ** .5))", "patchify.roundtrip",
         "anything about square images, where the same code is correct"),
    Card("column_major_patches", M.ColumnMajorPatches, "CLS / special-token off-by-one",
         "transformers #32410 (output row i must be patch i)",
         "patchify.patch_content",
         "that predictions are decoded in the same order (a consistent unpatchify hides it)",
         # The reference loss (and the model's own) cuts targets row-major, so it disagrees
         # with this patchify.
         ("loss.equals_spec", "loss.norm_pix_convention", "model.loss_of_own_prediction")),
    Card("inverted_polarity", M.InvertedPolarity, "mask polarity / wrong loss set",
         "Sllambias/asparagus PR #12; lightly PR #1003", "loss.equals_spec",
         "which convention the model's mask uses internally",
         ("loss.visible_ignored", "loss.masked_gradient", "loss.norm_pix_convention",
          "masking.empty_mask_loss_zero")),
    Card("all_patches_scored", M.AllPatchesScored, "normalisation of the loss",
         "lightly PR #1937", "loss.visible_ignored",
         "how large the dilution is on a real ratio",
         ("loss.equals_spec", "loss.masked_gradient", "loss.norm_pix_convention",
          "masking.empty_mask_loss_zero")),
    Card("mean_divided_twice", M.MeanDividedTwice, "normalisation of the loss",
         "a mean divided again by the masked count (no single report)", "loss.equals_spec",
         "anything when one patch is masked (the extra division is by 1)",
         ("loss.norm_pix_convention", "masking.empty_mask_loss_zero")),
    Card("shifted_loss_mask", M.ShiftedLossMask, "CLS / special-token off-by-one",
         "IcarusWizard/MAE #17", "loss.masked_gradient",
         "where in the model the shift happens",
         ("loss.equals_spec", "loss.visible_ignored", "loss.norm_pix_convention",
          "loss.masked_order_invariant")),
    Card("biased_variance", M.BiasedVariance, "target definition (norm-pix / patchify)",
         "ports of norm_pix_loss disagree on biased vs unbiased variance (no single report)",
         "loss.norm_pix_convention",
         "that either convention trains worse; only that it is not the documented one",
         ("loss.equals_spec",)),
    Card("eps_outside_sqrt", M.EpsOutsideSqrt, "target definition (norm-pix / patchify)",
         "transformers #29416 (norm-pix target conventions)",
         "loss.norm_pix_convention",
         "a difference on patches whose variance is far above eps (there it is below rounding)",
         ("loss.equals_spec",)),
    Card("encoder_sees_full_image", M.EncoderSeesFullImage,
         "mask never reaches the encoder / target leakage",
         "transformers #13235; huggingface/lerobot #4153", "encoder.hidden_unseen",
         "that the decoder or loss do not leak the hidden content another way"),
    Card("batch_statistics", M.BatchStatistics, "batch dependence",
         "allenai/olmoearth_pretrain PR #108; radixark/miles PR #2796",
         "encoder.batch_independent",
         "anything about batch-dependent layers in the decoder or loss",
         ("encoder.hidden_unseen",)),
    Card("offset_without_modulo", L.OffsetWithoutModulo, "TorchLean's own families",
         "TorchLean porting trap: offset compared without % period", "lean.vector_mae_mask",
         "the same trap in the image or block masks"),
    Card("floor_patches_per_row", L.FloorPatchesPerRow, "TorchLean's own families",
         "TorchLean porting trap: width // patchW instead of the ceiling", "lean.image_patch_mask",
         "anything on widths that the patch width divides (there floor = ceiling)"),
    Card("period_zero_hides_all", L.PeriodZeroHidesAll, "TorchLean's own families",
         "TorchLean porting trap: period = 0 must hide nothing", "lean.block_mask",
         "the behaviour for positive periods"),
    Card("overlap_ignored", J.OverlapIgnored, "context/target overlap and empty sets",
         "facebookresearch/ijepa #60; galilai-group/stable-pretraining PR #244",
         "jepa.masks_disjoint_nonempty",
         "that the predictor cannot see targets another way"),
    Card("exclusive_corner", J.ExclusiveCorner, "context/target overlap and empty sets",
         "the official I-JEPA collator's randint(0, H - h) (see runtime.masks.multiblock)",
         "jepa.positions_reachable", "that block positions are uniform, only reachable"),
    Card("padding_scored", J.PaddingScored, "normalisation of the loss",
         "lightly PR #1937's dilution, on the padded I-JEPA batch (the official collator "
         "truncates instead; see runtime.masks.jepa_batch)", "jepa.loss_equals_spec",
         "anything on batches whose target blocks all have the same size (no padding)",
         # The padded slots make the batch loss differ from the samples' own losses.
         ("jepa.padding_never_counts",)),
    Card("target_gradient", J.TargetGradient, "stop-gradient",
         "data2vec-pytorch #8; jerber/lang-jepa PR #5", "jepa.target_no_gradient",
         "that the EMA update itself is right"),
    Card("teacher_sees_context_only", J.TeacherSeesContextOnly, "teacher input",
         "data2vec-pytorch #20; fairseq #4881",
         "jepa.teacher_full_view", "that the teacher's input is un-augmented",
         # Its targets are not the full image's features; and the context padding's index 0
         # scattered into the teacher's view hides patch 0 in a padded batch only.
         ("jepa.target_is_target_encoder_at_position", "jepa.padding_never_counts")),
    Card("ema_never_called", J.EMANeverCalled, "EMA law",
         "SimSiam #26; lightning-bolts #1059",
         "jepa.ema_law", "anything once the documented momentum reaches 1"),
    Card("ema_horizon_wrong", J.EMAHorizonWrong, "EMA law",
         "solo-learn #248", "jepa.ema_law",
         "that the documented schedule is the one the paper used"),
    Card("predictor_not_optimized", J.PredictorNotOptimized, "optimizer coverage",
         "openai/parameter-golf PR #1581; ooples/AiDotNet PR #2180", "jepa.optimizer_coverage",
         "that the learning rates or weight decay of each group are right"),
    Card("predictor_without_target_positions", J.PredictorWithoutTargetPositions,
         "positions added twice / missing / unused",
         "pattern of I-JEPA predictors that append bare mask tokens without the target "
         "positions' embedding (no single report)", "jepa.pred_follows_target_position",
         "that the positions added are the documented ones (fixed.documented_values)"),
    Card("target_rows_reversed", J.TargetRowsReversed, "ordering / unshuffle",
         "pattern of target gathers whose row order differs from the predictor's mask order "
         "(no single report)", "jepa.target_is_target_encoder_at_position",
         "anything on one-cell blocks, where every order is the same"),
    Card("context_sees_targets", J.ContextSeesTargets,
         "mask never reaches the encoder / target leakage",
         "pattern of ports that run the context encoder on the whole image and gather the "
         "context rows afterwards (no single report)", "jepa.context_only_reaches_pred",
         "that the target branch is free of leaks (jepa.teacher_full_view checks its input)"),
    Card("targets_not_layer_normed", J.TargetsNotLayerNormed,
         "target definition (norm-pix / patchify)",
         "official I-JEPA train.py forward_target: h = F.layer_norm(h, (h.size(-1),)); ports "
         "that drop it (no single report)", "jepa.target_is_target_encoder_at_position",
         "anything at initialisation, where the encoder's final LayerNorm makes it a no-op "
         "(the contract's perturbed draws show it)"),
    Card("padding_attended", J.PaddingAttended, "batch dependence",
         "the official I-JEPA predictor has no key-padding mask because its collator "
         "truncates; ports that pad instead must add one (no single report)",
         "jepa.padding_never_counts",
         "that the context encoder masks its padding (this card breaks only the predictor)"),
    Card("one_block_size_per_batch", J.OneBlockSizePerBatch, "batch dependence",
         "the official I-JEPA MaskCollator samples one block size per batch (see "
         "runtime.masks.multiblock), undeclared", "jepa.blocks_vary_per_sample",
         "that per-batch sizes train worse; only that they are not per sample"),
    Card("trainable_pos_embed", J.TrainablePosEmbed,
         "fixed tensors overwritten by initialisation",
         "ports of facebookresearch/mae initialize_weights that train or re-init pos_embed "
         "(no single report)",
         "fixed.documented_values", "that the table is used where it should be"),
    Card("row_column_swapped", J.RowColumnSwapped, "fixed tensors overwritten by initialisation",
         "layout of the official MAE / I-JEPA get_2d_sincos_pos_embed (no single report)",
         "fixed.documented_values",
         "that a model trained with the swapped table is worse (it is only incompatible)"),
    Card("pos_added_twice", D.PosAddedTwice, "positions added twice / missing / unused",
         "pattern of ports that add pos_embed in the patch embedding and again to the kept "
         "sequence by slot (no single report)", "model.shuffle_order_invariant",
         "anything about a table added twice at the right indices: that is a model with twice "
         "the table, which no forward pass tells apart"),
    Card("encoder_without_positions", D.EncoderWithoutPositions,
         "positions added twice / missing / unused",
         "transformers 5.24 ViTMAEForPreTraining(config): position_embeddings left zero (found "
         "by this audit, see bridge.adapters.transformers_vitmae)",
         "model.encoder_position_sensitive",
         "that the positions added are the documented ones (fixed.documented_values)"),
    Card("decoder_without_positions", D.DecoderWithoutPositions,
         "positions added twice / missing / unused",
         "transformers 5.24 ViTMAEForPreTraining(config): decoder_pos_embed and mask_token "
         "zeroed by _init_weights (found by this audit)", "model.masked_rows_follow_position",
         "that the visible tokens get the right decoder positions"),
    Card("no_unshuffle", D.NoUnshuffle, "ordering / unshuffle",
         "pattern of decoders that append mask tokens without the ids_restore gather (no "
         "single report)", "model.shuffle_order_invariant",
         "anything when the shuffle happens to be the identity"),
    Card("cls_slice_off_by_one", D.ClsSliceOffByOne, "CLS / special-token off-by-one",
         "pattern of forwards that drop the CLS row in two places (no single report)",
         "model.loss_of_own_prediction",
         "that a consistent off-by-one (returned and scored rows both [:, :-1]) is absent: "
         "the forward's outputs agree with each other there"),
    Card("mask_token_unused", D.MaskTokenUnused, "knobs that do nothing",
         "pattern of decoders that fill removed patches with zeros (no single report)",
         "model.every_parameter_gets_gradient",
         "that a mask token registered as a frozen buffer is caught (it has no gradient to "
         "miss)"),
    Card("global_rng_masking", D.GlobalRNGMasking, "seeding / RNG source",
         "pattern of facebookresearch/mae random_masking: noise = torch.rand(N, L) from the "
         "global RNG (no single report)", "masking.generator_decides",
         "that the generator's draws are uniform", ("masking.batch_independent",)),
    Card("one_noise_per_batch", D.OneNoisePerBatch, "batch dependence",
         "pattern of noise drawn once per batch and broadcast (no single report)",
         "masking.samples_differ", "that each sample's mask is uniformly distributed"),
    Card("unclamped_mask_mean", D.UnclampedMaskMean, "normalisation of the loss",
         "facebookresearch/mae forward_loss and transformers ViTMAE (modeling_vit_mae.py:853 "
         "in 5.24.0): (loss * mask).sum() / mask.sum()", "masking.empty_mask_loss_zero",
         "anything on a non-empty mask (there the code is right)"),
    Card("rank_blind_masks", T.RankBlindMasks, "rank-unaware data, masks or schedules",
         "pattern that facebookresearch/mae main_pretrain.py guards against by seeding each "
         "rank with seed + rank (no single report)", "train.ranks_draw_apart",
         "that the ranks' masks are independent, only that they are not equal"),
    Card("one_process_horizon", T.OneProcessHorizon, "rank-unaware data, masks or schedules",
         "solo-learn #248 (schedule horizon wrong)", "train.schedule_completes",
         "that the schedule's shape between its ends is the documented one"),
    Card("decay_everything", T.DecayEverything, "weight decay on the wrong parameters",
         "pattern of AdamW(model.parameters(), weight_decay=...) that timm's "
         "param_groups_weight_decay exists to avoid (no single report)",
         "train.weight_decay_where_documented",
         "that the decayed parameters get the documented amount"),
    Card("wd_schedule_overwrites_exempt", T.WeightDecayScheduleOverwrites,
         "weight decay on the wrong parameters",
         "pattern of a weight-decay scheduler without facebookresearch/ijepa's WD_exclude check "
         "(no single report)", "train.weight_decay_where_documented",
         "anything about the first step (the groups are right until the schedule runs)"),
)

BY_NAME: dict[str, Card] = {card.name: card for card in CARDS}
