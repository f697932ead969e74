"""dfdemo: explainable deepfake detection. Pipeline: media → faces → detector → explain → report."""
from .analyzer import Analysis, Analyzer, Settings
from .detector import Detector, DetectorConfig, load_detector, save_detector
from .errors import DfdemoError, MediaError, WeightsError
from .report import Report

__all__ = ["Analysis", "Analyzer", "Settings", "Detector", "DetectorConfig", "load_detector", "save_detector",
           "DfdemoError", "MediaError", "WeightsError", "Report"]
