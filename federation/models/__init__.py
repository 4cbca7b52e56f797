"""The models, pure PyTorch and numpy: the churn network, the sequential recommender, the
recommender's DP item statistics, DP-SGD with its accounting, and the bench's pooled
baselines. No Flower, no database, no compliance: each module may import only torch, numpy,
scipy, Opacus, OpenDP, scikit-learn, LightGBM, implicit and its siblings."""
