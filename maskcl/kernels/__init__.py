"""Opt-in fast paths. Each computes what a readable function elsewhere in the library computes, bit for bit
(tests check it at the papers' shapes), and is chosen by its caller — never interleaved with the readable code:
- `mlp_infer.alpha_grads`: task inference's ∂J/∂α on an MLP with ∂J/∂W_eff taken by hand (`maskcl.infer`);
- `mlp_train`: stacked MLP tasks trained with their gradients by hand (`methods.supsup.train_masks`, whose
  readable path is `fast=False`; the dense MLPs of `methods.bounds` and `methods.batche`)."""
