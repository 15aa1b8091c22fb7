"""Scene-change count with PySceneDetect's AdaptiveDetector (the paper's "Num Scenes"), PyAV backend.

scenedetect imports cv2 for its detectors; the project installs ``opencv-python-headless`` (no GUI libraries)
and scenedetect with ``--no-deps`` (its metadata asks for the GUI ``opencv-python``). See the README.
"""
from __future__ import annotations


def detect_cuts(path, adaptive_threshold: float = 3.0, min_scene_len: int = 15) -> list[int]:
    """Frame indices where a new scene starts (empty for a single continuous shot).

    ``num_scenes = len(cuts) + 1``. Defaults are AdaptiveDetector's own.
    """
    try:
        from scenedetect import AdaptiveDetector, SceneManager, open_video
    except ImportError as exc:
        raise ImportError("scene counting needs scenedetect and cv2: run `make install`, or `pip install -c "
                          "requirements/constraints.txt opencv-python-headless==5.0.0.93 && pip install "
                          "--no-deps scenedetect==0.7.2`") from exc
    manager = SceneManager()
    manager.add_detector(AdaptiveDetector(adaptive_threshold=adaptive_threshold, min_scene_len=min_scene_len))
    manager.detect_scenes(open_video(str(path), backend="pyav"), show_progress=False)
    scenes = manager.get_scene_list(start_in_scene=True)
    return [int(start.frame_num) for start, _ in scenes[1:]]
