"""The methods. Each module holds one method's algorithm, its experiment config and its `VERSION`; a method
module imports the library (nets, masks, train, infer, scoring, data, store), never another method."""
