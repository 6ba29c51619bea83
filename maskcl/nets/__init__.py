"""The networks: a net is a small frozen dataclass that names its weight shapes in an explicit order
(`net.shapes`, `net.names`) and a `forward(x, weights, ...)` function beside it. Weights are plain tensors in
that order, rebuilt from a seed (`maskcl.nets.init`)."""
