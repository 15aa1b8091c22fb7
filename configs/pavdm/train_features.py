# PA fine-tuning from pre-extracted features (tools/extract_features.py): no VAE or T5 in the training loop.
#   python tools/extract_features.py configs/pavdm/train.py --data-path data/train.csv --output data/feats
#   torchrun --nproc_per_node=8 scripts/train.py configs/pavdm/train_features.py --data-path data/feats/features.csv
_base_ = ["train.py"]

dataset = dict(_delete_=True, type="LatentTextDataset", data_path=None)
