"""Dataset readers and writers (COCO, MPII, PoseTrack 2017/2018) and the synthetic video generator."""
