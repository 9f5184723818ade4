"""Pretrained face networks for training losses, ported from TensorFlow.js weights that npm
packages ship: face-api.js's FaceRecognitionNet and SSD MobileNetV1 backbone, Human's HSE
FaceRes MobileNet embedding. `convert` makes the safetensors files, `load` the modules."""
