"""LP++ (Huang et al., "LP++: A Surprisingly Strong Linear Probe for Few-Shot CLIP", CVPR 2024).

A linear probe whose class weights blend visual prototypes with the text embeddings:
logits_ik = f_i . w_k + b_k + alpha_k (f_i . t_k), f and t L2-normalised; the objective is the mean
cross-entropy on the support set (no regulariser), minimised by block-coordinate majorize-minimize
steps whose sizes come from the data (Lipschitz bounds), no learning-rate search; the epoch is chosen
on validation, as the authors' code does (github.com/FereshteShakeri/FewShot-CLIP-Strong-Baseline,
``methods/linear_probe_p2.py``).

What is taken from the authors' code: the model (with a bias, as their ``nn.Linear``), the objective,
full-batch steps, w initialised at the class sums, alpha_k at 250 x the mean of the class-averaged
image-text similarities, heavy-ball momentum 0.9 on the visual block, the epoch chosen on validation.

Where this differs, and why:

- Step sizes are the Boehning bound's (the softmax Hessian is at most I/2): block (w, b) gets
  1/L_w = 2N / lambda_max(Fc^T Fc) and 1/L_b = 2, block alpha gets 2N / sum_i s_ik^2 per class, so each
  plain step is a true majorize-minimize step (the authors' 4N / lambda_max(F^T F) is twice the bound).
- Features are centred on the support mean inside the (w, b) block: the model is the same
  (F W^T + b = (F - m) W^T + (b + W m)), but CLIP features share a large common direction that would
  otherwise set lambda_max and make every other step tiny.
- Momentum is restarted whenever a step would raise the objective (a plain majorize-minimize step is
  taken instead), so the objective never increases.
- alpha's initial value uses the magnitude of the mean similarity: features whose mean image-text
  cosine is negative (a modality gap pointing away) would otherwise start from an inverted text classifier.
- One alpha step per epoch after the visual step (the authors: one every 10 epochs).
- The epoch axis follows the edge rule (``grid.search_grid``): if the best epoch is the last one, training
  continues to twice as many epochs (up to 3 times), unless the objective has converged.
"""

from __future__ import annotations

import numpy as np

from .common import EpochTrainer, FittedBaseline, single_thread, unit_tensor
from .grid import Axis, search_grid

LPP_EPOCHS = 16  # initial epoch grid 0..16 (0: the initialisation), extended by the edge rule
LPP_MOMENTUM = 0.9  # heavy-ball momentum on the visual block (the authors' SGD momentum)
LPP_ALPHA_INIT = 250.0  # alpha_k starts at this x |mean class-averaged image-text cosine| (the authors' constant)
LPP_CONVERGED = 1e-4  # mean cross-entropy below which training has converged (a natural end of the epoch axis)


def lp_plus_plus(
    support_x: np.ndarray,
    support_y: np.ndarray,
    class_embeddings: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    test_x: np.ndarray,
    seed: int = 0,
    epochs: int = LPP_EPOCHS,
) -> FittedBaseline:
    """LP++ with the epoch chosen on validation (edge rule).

    Args:
        support_x, support_y: (N, D) support features and their labels in [0, C).
        class_embeddings: (C, D) the text embeddings blended into the class weights.
        val_x, val_y: validation features and labels (the epoch is chosen on them).
        test_x: (N_test, D) features to predict.
        seed: accepted for a uniform call from the sweep; full-batch LP++ is deterministic and uses none.
        epochs: the initial epoch grid is 0..epochs.

    Returns:
        Test predictions, validation accuracy and ``chosen`` = epochs, the initial alpha and the edge-rule record.
    """
    with single_thread():
        trainer = LPPTrainer(support_x, support_y, class_embeddings)
        val = trainer.prepare(val_x)
        result = search_grid(
            lambda p: trainer.val_acc(int(p["epochs"]), val, val_y),
            [Axis("epochs", tuple(range(epochs + 1)), low=0, extend="double", ties="low", integer=True)],
            natural_edge=lambda _, epoch: trainer.converged(int(epoch)),
        )
        chosen = int(result.best["epochs"])
        test_pred = trainer.predict(chosen, trainer.prepare(test_x))
    return FittedBaseline(test_pred, result.score, {**result.report(), "alpha_init": trainer.alpha_init})


class LPPTrainer(EpochTrainer):
    """LP++'s block majorize-minimize descent on one support set, advanced one epoch at a time.

    ``losses`` records the objective after every block step (it never increases); the kept parameters
    are (w, b, alpha).
    """

    def __init__(self, support_x: np.ndarray, support_y: np.ndarray, class_embeddings: np.ndarray):
        import torch

        f = unit_tensor(support_x)  # (N, D)
        self.text = unit_tensor(class_embeddings)  # (C, D)
        n, num_classes = len(f), len(self.text)
        self.y = torch.as_tensor(np.asarray(support_y, np.int64))
        onehot = torch.nn.functional.one_hot(self.y, num_classes).float()  # (N, C)
        self.mean = f.mean(0)
        self.fc = f - self.mean  # (N, D) centred features
        self.sims = f @ self.text.T  # (N, C) s_ik = f_i . t_k
        self.w = (f.T @ onehot).contiguous()  # (D, C) class sums
        self.b = self.mean @ self.w  # (C,) so that fc w + b = f w
        counts = onehot.sum(0)
        class_sims = (onehot.T @ self.sims)[counts > 0] / counts[counts > 0][:, None]  # mean similarity of class k's images to every text
        self.alpha_init = float(LPP_ALPHA_INIT * class_sims.mean().abs()) if len(class_sims) else 0.0
        self.alpha = torch.full((num_classes,), self.alpha_init)
        self.onehot = onehot  # Y: the gradient wrt the logits is (probs - Y) / N
        self.step_w, self.step_b, self.step_alpha = self._step_sizes(n)
        self.velocity_w, self.velocity_b = torch.zeros_like(self.w), torch.zeros_like(self.b)
        self.visual = self.fc @ self.w + self.b  # (N, C) the visual part of the logits, kept between blocks
        self.losses: list[float] = []
        self.loss, self.probs = self._objective(self.visual)
        self.losses.append(self.loss)
        self.epoch = 0
        self.val_accs: dict[int, float] = {}
        self.kept: dict[int, tuple] = {}

    def _step_sizes(self, n: int):
        """1/L per block from the Boehning bound (softmax Hessian <= I/2): a plain step never raises the loss."""
        import torch

        gram = (self.fc.T @ self.fc if self.fc.shape[0] > self.fc.shape[1] else self.fc @ self.fc.T).double()
        lam = float(torch.linalg.eigvalsh(gram)[-1]) if n else 0.0
        curvature = (self.sims * self.sims).sum(0)  # (C,)
        step_alpha = torch.where(curvature > 0, 2 * n / curvature.clamp(min=1e-30), torch.zeros_like(curvature))
        return (2 * n / lam if lam > 0 else 0.0), 2.0, step_alpha

    def _objective(self, visual):
        """Mean cross-entropy and softmax probabilities at visual logits ``visual`` and the current alpha."""
        logits = visual + self.alpha * self.sims
        lse = logits.logsumexp(1, keepdim=True)
        loss = float((lse[:, 0] - logits.gather(1, self.y[:, None])[:, 0]).mean())
        return loss, (logits - lse).exp()

    def step(self) -> None:
        """One epoch: a (w, b) step with momentum (restarted if it would raise the loss), then an alpha step."""
        n = len(self.y)
        grad = (self.probs - self.onehot) / n  # (N, C) d loss / d logits
        grad_w, grad_b = self.fc.T @ grad, grad.sum(0)
        for momentum in (LPP_MOMENTUM, 0.0):
            velocity_w = momentum * self.velocity_w - self.step_w * grad_w
            velocity_b = momentum * self.velocity_b - self.step_b * grad_b
            visual = self.fc @ (self.w + velocity_w) + self.b + velocity_b
            loss, probs = self._objective(visual)
            if loss <= self.loss or momentum == 0.0:
                break
        self.w, self.b, self.velocity_w, self.velocity_b = self.w + velocity_w, self.b + velocity_b, velocity_w, velocity_b
        self.visual, self.loss, self.probs = visual, loss, probs
        self.losses.append(loss)
        self.alpha = self.alpha - self.step_alpha * ((self.probs - self.onehot) * self.sims).sum(0) / n
        self.loss, self.probs = self._objective(self.visual)
        self.losses.append(self.loss)
        self.epoch += 1

    def prepare(self, x: np.ndarray):
        """Centred normalised features and their text similarities, for ``logits``."""
        xu = unit_tensor(x)
        return xu - self.mean, xu @ self.text.T

    def logits(self, prepared, params: tuple | None = None):
        """(M, C) logits of prepared features under ``params`` (w, b, alpha; default: the current ones)."""
        w, b, alpha = params or (self.w, self.b, self.alpha)
        return prepared[0] @ w + b + alpha * prepared[1]

    def val_predict(self, val) -> np.ndarray:
        return self.logits(val).argmax(1).numpy()

    def snapshot(self) -> tuple:
        return self.w.clone(), self.b.clone(), self.alpha.clone()

    def converged(self, epoch: int) -> bool:
        """Whether the objective had converged by ``epoch`` (further epochs barely move the classifier)."""
        return self.losses[min(2 * epoch, len(self.losses) - 1)] < LPP_CONVERGED

    def predict(self, epoch: int, prepared) -> np.ndarray:
        """Class predictions with the parameters of a kept ``epoch``."""
        return self.logits(prepared, self.kept[epoch]).argmax(1).numpy()
