"""posetrack's pose package: HRNet, top-down inference, datasets, training and COCO/MPII evaluation."""
