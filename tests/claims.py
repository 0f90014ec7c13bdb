"""Every sentence a lesson states about a result, as an assertion over numbers the lesson records.

How a new claim gets its assertion (for instructors):
1. In the solution notebook, the cell that prints the numbers behind the sentence also calls
   ``claims.record(name=value, ...)`` (``from cflearn import claims``; it prints nothing).
2. Add a ``Claim`` below under the lesson's number: ``says`` quotes the sentence's gist as the
   lesson states it, ``holds`` is a Python expression over the recorded names that is true
   exactly when the sentence is. Allow a tolerance where the sentence allows one.
3. ``make test`` executes the notebook and checks every claim of that lesson; a failure prints
   the sentence and the recorded values. A sentence with no claim here is a sentence to delete.
Lessons run in solutions/ and lessons/ alike (the checks run after each notebook's last cell).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    says: str  # the lesson's sentence (its gist), so a failure names what became false
    holds: str  # a Python expression over the recorded names


CLAIMS: dict[str, list[Claim]] = {
    # ---- lesson 00 ----
    "00": [
        Claim("the summary: 100,836 ratings, 610 users, 9,724 rated movies",
              "n_ratings == 100836 and n_users == 610 and n_rated_movies == 9724"),
        Claim("a few films in movies have no rating at all", "0 < never_rated < 50"),
        Claim("the largest movieId is far above the number of movies (large gaps)", "id_gap_ratio > 5"),
        Claim("4 stars is the most common answer and the mean is about 3.5",
              "mode_rating == 4 and abs(mean_rating - 3.5) < 0.05"),
        Claim("whole stars are much more common than half stars (more than twice as many)", "whole_to_half > 2"),
        Claim("the standard deviation, what a mean-only model is off by, is about 1.04", "abs(rating_std - 1.04) < 0.01"),
        Claim("more than 98% of the table is empty; we see 1.7%", "filled < 0.02 and abs(filled - 0.017) < 0.0005"),
        Claim("the densest corner is mostly full, yet some cells are empty",
              "0.5 * corner_size < corner_filled < corner_size"),
        Claim("every user rated at least 20 movies, but about a third of the movies were rated exactly once",
              "fewest_per_user >= 20 and abs(once_share - 1 / 3) < 0.03"),
    ],
    # ---- lesson 01 ----
    "01": [
        Claim("every user here rated at least 20 movies, so no user is unseen",
              "min_user_ratings >= 20 and unseen_users == 0"),
        Claim("the unseen movies are rarely rated ones (once or twice in the whole data set)",
              "unseen_movie_ratings < 2"),
        Claim("the summary: 798 validation rows (about 4%) are dropped", "unseen_rows == 798 and abs(unseen_share - 0.04) < 0.005"),
        Claim("the leaky encoder scores as many rows with untrained rows as the honest encoder drops",
              "leaky_untrained_hits == honest_dropped == unseen_rows"),
        Claim("with a separate mapping per split almost every validation rating looks up another movie's row",
              "same_mapping_share < 0.05"),
        Claim("baselines take the error from about 1.04 (global mean) to about 0.86 (bias baseline)",
              "abs(rmse_mean - 1.04) < 0.005 and abs(rmse_bias - 0.86) < 0.005"),
    ],
    # ---- lesson 02 ----
    "02": [
        Claim(says="only the rows a batch used get a gradient", holds="grad_rows_are_batch_rows"),
        Claim(says="with plain SGD only the rows the batch used move", holds="moved_sgd == n_batch_rows"),
        Claim(says="AdamW's weight decay moves every row of the table at every step", holds="moved_adamw == n_users"),
        Claim(says="AdamW's momentum keeps moving rows that earlier batches used",
              holds="moved_momentum == n_batch_rows + n_second_rows"),
    ],
    # ---- lesson 03 ----
    "03": [
        Claim(says="your classes and the package's give identical predictions from the same weights",
              holds="torch_gap < 1e-6 and keras_gap < 1e-6"),
        Claim(says="with the same weights PyTorch and Keras predict the same", holds="frameworks_gap < 1e-5"),
        Claim(says="Keras's val_rmse metric is the RMSE of the model's predictions",
              holds="abs(keras_metric - keras_rmse_one) < 1e-3"),
        Claim(says="the recipe's learning rate gives the lowest inner validation RMSE, so we keep it",
              holds="chosen_lr == recipe_lr and lr_mid < lr_low and lr_mid < lr_high"),
        Claim(says="the smallest learning rate is too slow: still far above after the same epochs",
              holds="lr_low - lr_mid > 0.1"),
        Claim(says="the largest learning rate ends with the lowest training loss but a worse validation RMSE",
              holds="train_high < train_mid and lr_high > lr_mid"),
        Claim(says="with the one-cycle schedule every validation curve is still falling at the last epoch",
              holds="best_epoch_low == best_epoch_mid == best_epoch_high == n_epochs"),
        Claim(says="the validation RMSE falls until the last epoch in both frameworks",
              holds="torch_best_epoch == keras_best_epoch == 5"),
        Claim(says="the two frameworks end within a few thousandths", holds="abs(torch_rmse - keras_rmse) < 0.005"),
        Claim(says="the plain dot product stays worse than the bias baseline",
              holds="torch_rmse > base_rmse and keras_rmse > base_rmse"),
    ],
    # ---- lesson 04 ----
    "04": [
        Claim(says="a fresh model without y_range predicts about 0", holds="fresh_raw < 0.1"),
        Claim(says="with y_range=(0.5, 5.5) a fresh model predicts the middle, 3.0", holds="fresh_middle < 0.1"),
        Claim(says="with a global-mean offset a fresh model predicts the training mean", holds="fresh_mean < 0.1"),
        Claim(says="your classes and the package's give identical predictions from the same weights",
              holds="torch_gap < 1e-5 and keras_gap < 1e-5"),
        Claim(says="with the same weights PyTorch and Keras predict the same", holds="frameworks_gap < 1e-5"),
        Claim(says="every change makes the model worse than the recipe on the inner split",
              holds="min(abl_frozen, abl_wd0, abl_no_y_range, abl_global_mean) > abl_recipe"),
        Claim(says="freezing the biases at 0 makes the inner RMSE clearly worse: the biases earn their place",
              holds="abl_frozen > abl_recipe + 0.005"),
        Claim(says="without weight decay the validation RMSE is best at an early epoch (the model overfits)",
              holds="epoch_wd0 < n_epochs and abl_wd0 > abl_recipe + 0.005"),
        Claim(says="without weight decay the training loss keeps falling while the validation RMSE rises",
              holds="wd0_loss_falls"),
        Claim(says="with the recipe's weight decay the inner curve is still falling at the last epoch",
              holds="epoch_recipe == n_epochs"),
        Claim(says="of the changes that keep the sigmoid, dropping weight decay costs the most",
              holds="abl_wd0 > max(abl_frozen, abl_global_mean)"),
        Claim(says="without y_range the model ends furthest behind the recipe",
              holds="abl_no_y_range == max(abl_frozen, abl_wd0, abl_no_y_range, abl_global_mean)"),
        Claim(says="the global-mean offset makes the model slightly worse, its best epoch before the last",
              holds="abl_global_mean > abl_recipe and epoch_global_mean < n_epochs"),
        Claim(says="so the recipe keeps y_range and leaves the global mean out",
              holds="recipe_without_global_mean and recipe_with_y_range"),
        Claim(says="with the recipe the validation RMSE flattens out by the last epoch",
              holds="torch_final_above_best < 0.002 and keras_final_above_best < 0.002"),
        Claim(says="DotProductBias beats the bias baseline in both PyTorch and Keras",
              holds="torch_rmse < base_rmse and keras_rmse < base_rmse"),
        Claim(says="the two frameworks agree within a few thousandths", holds="abs(torch_rmse - keras_rmse) < 0.005"),
    ],
    # ---- lesson 05 ----
    "05": [
        Claim(says="the tuned dot product with biases beats NeuralCF on the validation split",
              holds="rmse_nn_torch > rmse_dpb_torch"),
        Claim(says="the two frameworks give close numbers with the same recipe",
              holds="abs(rmse_nn_torch - rmse_nn_keras) < 0.01"),
        Claim(says="on the inner split every seed of DotProductBias beats every seed of NeuralCF",
              holds="inner_dpb_worst < inner_nn_best"),
        Claim(says="the mean gap is larger than either model's spread over seeds",
              holds="inner_gap_mean > max(inner_nn_worst - inner_nn_best, inner_dpb_worst - inner_dpb_best)"),
        Claim(says="no width or dropout in the sweep brings NeuralCF down to DotProductBias (best setting above its worst seed)",
              holds="ablation_best > inner_dpb_worst"),
        Claim(says="the swept settings move the RMSE by less than the gap between the two models",
              holds="ablation_spread < inner_gap_mean"),
    ],
    # ---- lesson 06 ----
    "06": [
        Claim(says="with the recipe the side branch varies more than the main branch (validation rows)",
              holds="side_std > main_std"),
        Claim(says="the two branches do not cancel: they are positively correlated (validation rows)",
              holds="branch_corr > 0.2"),
        Claim(says="the side branch accounts for the larger share of the variance of main + side",
              holds="side_share > main_share and abs(side_share + main_share - 1) < 1e-6"),
        Claim(says="with weight decay the side branch varies more than the main branch (inner split)",
              holds="side_std_wd > main_std_wd"),
        Claim(says="without weight decay the roles swap: the main branch varies more, the MLP is a small correction",
              holds="main_std_no_wd > side_std_no_wd"),
        Claim(says="the inner-split RMSE is clearly worse without weight decay",
              holds="rmse_no_wd > rmse_wd + 0.01"),
        Claim(says="ResidualCF in the two frameworks gives close numbers with the same recipe",
              holds="abs(rmse_res_torch - rmse_res_keras) < 0.01"),
        Claim(says="the bias baseline is far ahead of the global mean",
              holds="rmse_GlobalMean - rmse_BiasBaseline > 0.1"),
        Claim(says="the plain dot product does not even reach the bias baseline",
              holds="rmse_DotProduct > rmse_BiasBaseline"),
        Claim(says="adding biases is the big step: DotProductBias gains more over DotProduct than any later model changes",
              holds="rmse_DotProduct - rmse_DotProductBias > max(abs(rmse_ResidualCF - rmse_DotProductBias), "
                    "abs(rmse_NeuralCF - rmse_DotProductBias))"),
        Claim(says="ResidualCF and DotProductBias end up within a few thousandths; ResidualCF does not clearly beat it",
              holds="abs(rmse_ResidualCF - rmse_DotProductBias) < 0.005"),
    ],
    # ---- lesson 07 ----
    "07": [
        Claim("the recipe's DotProductBias beats the bias baseline", "model_rmse < base_rmse"),
        Claim("without weight decay the model predicts worse, worse even than the bias baseline",
              "wd0_rmse > base_rmse > model_rmse"),
        Claim("the naive ranking by mean rating is topped by films with a perfect mean from very few ratings",
              "naive_top5_min_mean == 5.0 and naive_top5_max_n <= 3"),
        Claim("rare films make up most of the catalogue but few of the 40 extreme biases",
              "rare_share > 0.5 and rare_extremes / 40 < rare_share / 2"),
        Claim("the model trained without weight decay has about as many rare films among the extremes",
              "abs(rare_extremes_wd0 - rare_extremes) <= 3"),
        Claim("in both models a rare film's bias stays closer to zero than an often-rated film's",
              "rare_abs < common_abs and rare_abs_wd0 < common_abs_wd0"),
        Claim("weight decay shrinks every bias (rare and often-rated films alike)",
              "rare_abs_wd0 > 1.3 * rare_abs and common_abs_wd0 > 1.3 * common_abs"),
        Claim("item bias and mean rating agree broadly, not exactly", "0.5 < bias_mean_corr < 0.98"),
        Claim("with no global-mean offset the user biases are not centred on zero (they carry part of the mean)",
              "user_bias_mean > 0.05"),
        Claim("the first component is strongly correlated with the mean rating; the second only weakly",
              "pc1_mean_corr > 0.6 and pc2_mean_corr < 0.5 and pc2_mean_corr < pc1_mean_corr - 0.2"),
        Claim("both models' neighbours share genres clearly more often than chance (ratio to random pairs above 1.25)",
              "overlap_recipe > 1.25 * overlap_random and overlap_wd0 > 1.25 * overlap_random"),
        Claim("the recipe's model groups films by genre a little more than the one without weight decay",
              "overlap_recipe > overlap_wd0"),
        Claim("without leaving seen films out, films the user already rated take places in the top 10",
              "already_seen >= 1"),
        Claim("vector length tracks the number of ratings, as strongly without weight decay",
              "spearman > 0.6 and spearman_wd0 > 0.6 and abs(spearman - spearman_wd0) < 0.05"),
    ],
    # ---- lesson 08 ----
    "08": [
        Claim("at the start the model predicts about the mean: the MSE is close to the variance of the ratings",
              "abs(start_mse - rating_var) < 0.05 * rating_var"),
        Claim("the penalty adds a little on top of the MSE at the start",
              "0 < start_reg_loss - start_mse < 0.15 * start_mse"),
        Claim("five one-rating steps and one step on the batch of five end up in different places",
              "batch_gap > 1e-3"),
        Claim("the regularised loss stays above the training MSE (the gap does not vanish)", "reg_gap_last > 0.05"),
        Claim("the training RMSE keeps falling while the validation RMSE flattens out over the last epochs",
              "train_rmse_drop_late > 0.02 and abs(valid_rmse_drop_late) < 0.005"),
        Claim("the NumPy BiasedMF beats the bias baseline", "numpy_rmse < base_rmse"),
        Claim("the PyTorch DotProductBias is a little ahead of the NumPy BiasedMF",
              "0 < numpy_rmse - torch_rmse < 0.03"),
        Claim("the two models' predictions are strongly correlated", "pred_corr > 0.85"),
    ],
    # ---- lesson 09 ----
    "09": [
        # course split
        Claim("the bias baseline is far better than the global mean", "course_bias < course_gm - 0.1"),
        Claim("every model with biases beats the bias baseline",
              "max(course_biasedmf, course_DotProductBias, course_NeuralCF, course_ResidualCF) < course_bias"),
        Claim("DotProduct, with no biases, does worse than the bias baseline", "course_DotProduct > course_bias"),
        Claim("BiasedMF beats the bias baseline but not DotProductBias",
              "course_DotProductBias < course_biasedmf < course_bias"),
        Claim("PyTorch and Keras agree to within 0.005 RMSE", "course_max_framework_gap <= 0.005"),
        # ml-100k folds, paired
        Claim("biases are the big, reliable step: far better than the global mean on every fold",
              "folds_gm_wins == 5 and folds_gm_diff_mean - folds_bias_diff_mean > 0.1"),
        Claim("the best model beats the bias baseline on every fold", "folds_bias_wins == 5"),
        Claim("...by a mean paired difference several times its spread",
              "folds_bias_diff_mean > 3 * folds_bias_diff_std"),
        Claim("both contenders beat the bias baseline on every fold", "folds_contenders_beat_bias_every_fold == 1"),
        Claim("the two strongest: mean paired difference smaller than its spread",
              "abs(folds_runner_up_diff_mean) < folds_runner_up_diff_std"),
        Claim("...and neither wins every fold", "1 <= folds_runner_up_wins <= 4"),
        Claim("ResidualCF has the lower mean, yet DotProductBias wins more of the folds",
              "folds_residual_best == 1 and folds_dpb_runner_up == 1 and folds_runner_up_wins <= 2"),
        Claim("a model's own RMSE moves more over folds than the paired differences",
              "folds_best_own_std > max(folds_bias_diff_std, folds_runner_up_diff_std)"),
        # scale
        Claim("seconds per epoch grow with the ratings, roughly in proportion",
              "0.3 * scale_size_ratio < scale_time_ratio < 2 * scale_size_ratio"),
        Claim("the ratings frame grows in proportion to the ratings", "abs(scale_data_ratio / scale_size_ratio - 1) < 0.05"),
        Claim("this process's peak memory barely moves", "scale_peak_ratio < 1.5"),
        Claim("more ratings bring the held-out RMSE closer to the planted model's, staying above it",
              "scale_floor_large < scale_rmse_large < scale_rmse_small"),
    ],
    # ---- lesson 10 ----
    "10": [
        Claim(says="some users have no relevant held-out film; they are counted and left out", holds="n_without_relevant > 0"),
        Claim(says="the most-popular list is a strong baseline: the rating model ranks worse than it",
              holds="pop_recall > dpb_recall and pop_ndcg > dpb_ndcg"),
        Claim(says="the rating model's lists reach further into the catalogue and recommend less popular films",
              holds="dpb_coverage > pop_coverage and dpb_popularity < pop_popularity"),
        Claim(says="BPR beats the most-popular list on recall@10 and NDCG@10 in both frameworks",
              holds="min(bpr_t_recall, bpr_k_recall) > pop_recall and min(bpr_t_ndcg, bpr_k_ndcg) > pop_ndcg"),
        Claim(says="the two frameworks' BPR agree within a few percent",
              holds="abs(bpr_t_recall - bpr_k_recall) / bpr_t_recall < 0.05 and abs(bpr_t_ndcg - bpr_k_ndcg) / bpr_t_ndcg < 0.05"),
        Claim(says="BPR's lists have higher coverage than the popularity list", holds="bpr_t_coverage > pop_coverage"),
        Claim(says="on this data sampled and full metrics order the four models the same way", holds="orders_agree == 1.0"),
        Claim(says="every sampled hit rate is several times the full recall@10",
              holds="min(sampled_pop / pop_recall, sampled_dpb / dpb_recall, sampled_bpr_t / bpr_t_recall) > 3"),
        Claim(says="the BPR-vs-popular gap looks smaller under sampling than under full ranking",
              holds="sampled_bpr_t / sampled_pop < bpr_t_ndcg / pop_ndcg"),
    ],
}


def load(path) -> dict:
    """The values a notebook recorded (the last one wins for a name recorded twice)."""
    values = {}
    with open(path, encoding="utf-8") as log:
        for line in log:
            entry = json.loads(line)
            values[entry["name"]] = entry["value"]
    return values


def failures(lesson: str, values: dict) -> list[str]:
    """Messages for the claims of ``lesson`` that do not hold on ``values`` (empty: all hold)."""
    out = []
    for claim in CLAIMS.get(lesson, []):
        try:
            ok = bool(eval(claim.holds, {"abs": abs, "min": min, "max": max, "math": math}, dict(values)))  # noqa: S307
        except NameError as err:
            out.append(f"{claim.says!r}: the notebook recorded no {err.name!r} (recorded: {sorted(values)})")
            continue
        if not ok:
            used = {k: v for k, v in values.items() if k in claim.holds}
            out.append(f"{claim.says!r} no longer holds: {claim.holds} is false with {used}")
    return out
