"""The field's reference classifiers on real IMU windows: hand-made features + gradient boosting
(``model=features_gbm``) and MiniRocket + a linear classifier (``model=minirocket``).

They are ``model.kind=classical`` configurations: ``har.training.trial.run_trial`` fits them on the
same DataModule windows as the neural models (no Lightning loop) and scores them with the same
metrics into the same results.json. This package knows nothing of training: it turns windows into
predictions.
"""
