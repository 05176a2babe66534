"""Datasets, samplers and the ``DataLoader`` (PyTorch's ``torch.utils.data``)."""
from .dataloader import DataLoader, default_collate, default_convert
from .dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

# DistributedSampler (distgrad/data/distributed.py) is exported here when that module lands.

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset",
           "RandomSampler", "Sampler", "SequentialSampler", "Subset", "TensorDataset",
           "default_collate", "default_convert", "random_split"]
