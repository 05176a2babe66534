"""Datasets, samplers and the ``DataLoader`` (PyTorch's ``torch.utils.data``)."""
from .dataloader import DataLoader, default_collate, default_convert
from .dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from .distributed import DistributedSampler
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from .workers import WorkerInfo, get_worker_info

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler",
           "IterableDataset",
           "RandomSampler", "Sampler", "SequentialSampler", "Subset", "TensorDataset",
           "WorkerInfo", "default_collate", "default_convert", "get_worker_info",
           "random_split"]
