import MorphoCore
