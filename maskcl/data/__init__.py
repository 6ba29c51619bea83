"""Real data (MNIST, CIFAR-10/100) from `MASKCL_DATA`, md5-checked; synthetic stand-ins; task streams."""
from .cifar import cifar_available, load_cifar, synthetic_cifar, verify_cifar
from .files import DataError, data_root, md5
from .mnist import MEAN, MNIST_FILES, STD, load_dataset, load_mnist, mnist_available, synthetic_mnist, verify_mnist
from .streams import STREAMS, ClassSplit, TaskStream, batch_order, class_split, crop_flip, hold_out, task_stream

__all__ = ["ClassSplit", "DataError", "class_split", "crop_flip", "hold_out", "MEAN", "MNIST_FILES", "STD", "STREAMS", "TaskStream", "batch_order", "cifar_available",
           "data_root", "load_cifar", "load_dataset", "load_mnist", "md5", "mnist_available", "synthetic_cifar",
           "synthetic_mnist", "task_stream", "verify_cifar", "verify_mnist"]
