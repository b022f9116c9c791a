"""Short-schedule training and Optuna studies."""
