"""The models, pure PyTorch and numpy: the churn network, the sequential recommender, the
recommender's DP item statistics and DP-SGD with its accounting. No Flower, no database, no
compliance: each module may import only torch, numpy, scipy, Opacus and OpenDP and its
siblings."""
