import MorphoCore
import MorphoIO
print("ok")
